import { createServer, createConnection, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy a test can cut and restore, to take a real server away from a client and give it
 * back. It can also stall: hold every byte in both directions, as a network that drops packets
 * without closing anything, so a request is in flight for as long as the test wants.
 */
export class CuttableProxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private stalled = false;
  private held: { to: Socket; data: Buffer }[] = [];
  port = 0;
  /** Client connections accepted since the proxy was made. */
  accepted = 0;
  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  /** `url` (a server's address, any scheme) through this proxy: its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, '');
  }

  /** Bytes sent while stalled, not yet delivered: more than 0 means a request is in flight. */
  get heldBytes(): number {
    return this.held.reduce((n, h) => n + h.data.length, 0);
  }

  async open(port = this.port): Promise<number> {
    this.server = createServer((client) => {
      this.accepted++;
      const upstream = createConnection({ port: this.targetPort, host: this.targetHost });
      for (const s of [client, upstream]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); s.on('error', () => {}); }
      const forward = (from: Socket, to: Socket) => {
        from.on('data', (data) => (this.stalled ? this.held.push({ to, data }) : to.write(data)));
        from.on('end', () => to.end());
        from.on('close', () => to.destroy());
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Holds every byte from now on, in both directions, without closing anything. */
  stall(): void {
    this.stalled = true;
  }

  /** Delivers what was held and forwards again, as a network that came back. */
  resume(): void {
    this.stalled = false;
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) to.write(data);
  }

  /** Refuses new connections and resets the open ones, as a server that went away; what was held is lost. */
  async cut(): Promise<void> {
    this.stalled = false;
    this.held = [];
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}
