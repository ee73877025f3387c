import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/**
 * An HTTP proxy in front of a target's system (a simulator) that counts the writes passing
 * through and answers chosen requests with 503 instead of forwarding them, as a system that is
 * briefly overloaded.
 */
export class FaultyProxy {
  /** Write requests the system received and accepted (2xx), not counting refused ones. */
  writes = 0;
  private server: Server | undefined;
  private faults: { match: (body: string) => boolean; times: number }[] = [];

  constructor(private readonly upstream: string, private readonly isWrite: (body: string, path: string) => boolean) {}

  async open(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const fault = this.faults.find((f) => f.times > 0 && f.match(body));
        if (fault) {
          fault.times--;
          res.writeHead(503, { 'content-type': 'text/html' }).end('<html>overloaded</html>');
          return;
        }
        request(`${this.upstream}${req.url}`, { method: req.method as 'POST', headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' }, body })
          .then(async (r) => {
            const text = await r.body.text();
            if (r.statusCode < 300 && this.isWrite(body, req.url ?? '') && !/"exception"/.test(text)) this.writes++;
            res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json') }).end(text);
          })
          .catch(() => res.destroy());
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `times` requests whose body matches are answered 503. */
  failNext(match: (body: string) => boolean, times: number): void {
    this.faults.push({ match, times });
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
