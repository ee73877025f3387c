import { createServer, createConnection, type Server, type Socket } from 'node:net';

/** A TCP proxy a test can cut and restore, to take a real server away from a client and give it back. */
export class CuttableProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async open(port = this.port): Promise<number> {
    this.server = createServer((client) => {
      const upstream = createConnection({ port: this.targetPort, host: this.targetHost });
      for (const s of [client, upstream]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); s.on('error', () => {}); }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Refuses new connections and resets the open ones, as a server that went away. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}
