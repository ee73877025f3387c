import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import client from 'prom-client';

/** One registry per process: every component's series on one /metrics. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const counter = (name: string, help: string, labelNames: string[]) => new client.Counter({ name, help, labelNames, registers: [registry] });

export const metrics = {
  events: counter('tilgang_events_total', 'person.changed events a target group took in', ['target']),
  results: counter('tilgang_results_total', 'provisioning results by outcome', ['target', 'outcome']),
  retries: counter('tilgang_retries_total', 'transient failures retried', ['target']),
  dlq: counter('tilgang_dlq_total', 'events sent to the dead-letter topic', ['target']),
  skipped: counter('tilgang_producer_skipped_total', 'change log entries passed over', ['reason']),
  published: counter('tilgang_producer_published_total', 'PersonChanged events published', []),
  writebacks: counter('tilgang_writeback_total', 'results the writeback handled, by outcome (written, dead-lettered, ignored, retried)', ['outcome']),
  writebackFailingSince: new client.Gauge({ name: 'tilgang_writeback_failing_since_seconds', help: 'when the writeback began failing to reach the directory or the registry (unix time); 0 while it writes', registers: [registry] }),
  unavailableSince: new client.Gauge({
    name: 'tilgang_unavailable_since_seconds', help: 'when a target group found the target (or a dependency) unavailable, unix seconds; 0 when available',
    labelNames: ['target', 'dependency'], registers: [registry],
  }),
  lag: new client.Gauge({ name: 'tilgang_consumer_lag', help: 'messages behind the end of the partition', labelNames: ['group', 'partition'], registers: [registry] }),
  historyRecorded: counter('tilgang_history_recorded_total', 'provisioning results written into the results store', []),
  /** Every HTTP request to a target's system: how many calls a change costs, and how long they take. */
  requestSeconds: new client.Histogram({
    name: 'tilgang_target_request_seconds', help: 'HTTP requests to a target\'s system by call, and their time; outcome ok, transient (retried) or refused',
    labelNames: ['system', 'call', 'outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  }),
  applySeconds: new client.Histogram({
    name: 'tilgang_apply_seconds', help: 'time to apply one person\'s plan (or their share of a batch)', labelNames: ['target'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  }),
};

export interface HealthSource {
  name: string;
  ready(): boolean;
  /** Why it is not ready (and since when), for /readyz. */
  reason?(): string | undefined;
}

/** Serves more paths on the same server (the dashboard); resolves false for a path it does not know. */
export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * /metrics (Prometheus), /healthz (the process lives), /readyz (every component is connected);
 * any other path is offered to `extra()` (the dashboard, once it is there).
 */
export function serveHealth(port: number, sources: () => HealthSource[], host = '127.0.0.1', extra?: () => ExtraHandler | undefined): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    } else if (req.url === '/healthz') {
      res.end('ok\n');
    } else if (req.url === '/readyz') {
      const notReady = sources().filter((s) => !s.ready()).map((s) => {
        const why = s.reason?.();
        return why ? `${s.name} (${why})` : s.name;
      });
      res.statusCode = notReady.length ? 503 : 200;
      res.end(notReady.length ? `not ready: ${notReady.join(', ')}\n` : 'ready\n');
    } else {
      const handler = extra?.();
      if (handler && await handler(req, res).catch(() => false)) return;
      if (res.headersSent) return;
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
