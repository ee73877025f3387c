/**
 * kafkajs looks a coordinator up again before every step of a transaction: AddPartitionsToTxn,
 * AddOffsetsToTxn, TxnOffsetCommit (the group's coordinator) and EndTxn each begin with a
 * FindCoordinator request, 4 of the 9 requests a consume-process-produce transaction costs (at
 * 50 changes/s over four targets, 360 lookups a second in one process). Kafka's own Java client
 * keeps the coordinator until a request says it moved. This keeps each client's answer for a
 * second: a coordinator that moved is found again after at most that, within kafkajs's retries of
 * the refused request.
 */
import { createRequire } from 'node:module';

/** How long a client keeps a coordinator it was told. */
export const COORDINATOR_LOOKUP_TTL_MS = 1_000;

interface Broker { nodeId: number }
interface ClusterLike {
  findGroupCoordinator(this: ClusterLike, args: { groupId: string; coordinatorType?: number }): Promise<Broker>;
  findBroker(this: ClusterLike, args: { nodeId: number }): Promise<Broker>;
  /** Per client (a kafkajs Cluster belongs to one producer, consumer or admin). */
  coordinatorCache?: Map<string, { nodeId: number; at: number }>;
}

const require = createRequire(import.meta.url);
const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: ClusterLike & { lookupsCached?: true } };

if (!Cluster.prototype.lookupsCached) {
  const lookup = Cluster.prototype.findGroupCoordinator;
  Cluster.prototype.findGroupCoordinator = async function (this: ClusterLike, args) {
    const cache = (this.coordinatorCache ??= new Map());
    const key = `${args.coordinatorType ?? 0}\u0000${args.groupId}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < COORDINATOR_LOOKUP_TTL_MS) {
      try {
        return await this.findBroker({ nodeId: hit.nodeId });
      } catch {
        cache.delete(key); // the broker is gone from the metadata: look again
      }
    }
    const broker = await lookup.call(this, args);
    cache.set(key, { nodeId: broker.nodeId, at: Date.now() });
    return broker;
  };
  Cluster.prototype.lookupsCached = true;
}
