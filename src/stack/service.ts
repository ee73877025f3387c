/**
 * One server of the local stack. `stack up` calls install → start → healthy for each, in order;
 * every step is idempotent so a second `stack up` with everything running returns at once.
 */
export interface Service {
  name: string;
  /** Ports it listens on; `stack up` refuses to start it when one is taken by a stranger. */
  ports: number[];
  /** Brings binaries/config into the state folder; quick when already done. */
  install(): Promise<void>;
  /** Starts the server as a local process and returns when it answers its real protocol. */
  start(): Promise<void>;
  /** True when it answers its real protocol (not merely an open port). */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
  /** Drops its data (not its binaries). */
  reset(): Promise<void>;
  /** pid of the local process, when this stack started it. */
  pid(): number | undefined;
}
