// A TCP proxy between a store and PostgreSQL that stands in for the network, so that a test can
// cut every connection and refuse new ones, then let them through again; and `eventually`, which
// polls for what an outage test waits on.
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { waitUntil } from "../../testing/wait-until.ts";

/**
 * Forwards a local port to PostgreSQL. `cut()` closes every connection and refuses new ones
 * (PostgreSQL down); `freeze()` keeps connections open but forwards nothing (a network that died
 * silently); `restore()` and `thaw()` undo them.
 */
export class OutageProxy {
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<[Socket, Socket]>();
  #server: Server | undefined;
  #frozen = false;
  port = 0;

  constructor(target: URL) {
    this.#target = { host: target.hostname, port: Number(target.port || 5432) };
  }

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target);
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      for (const socket of pair) {
        socket.on("close", () => this.#pairs.delete(pair));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      if (!this.#frozen) link(pair);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  freeze(): void {
    this.#frozen = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  thaw(): void {
    this.#frozen = false;
    for (const pair of this.#pairs) link(pair);
  }
}

function link([client, upstream]: [Socket, Socket]): void {
  client.pipe(upstream);
  upstream.pipe(client);
}

/** Polls `condition` on real time (the database is real), failing after `timeoutMs`. */
export function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  return waitUntil(condition, { timeoutMs, what });
}
