/**
 * Real upstream servers on 127.0.0.1, port 0, for the transport tests: an HTTP one that runs a
 * handler and a raw TCP one for answers no HTTP server would give. Each counts what it saw and
 * destroys every socket it accepted on `close()`. Also the fixtures both transport test files use:
 * generous send options and closing what a test opened.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from "node:net";
import { afterEach } from "vitest";
import type { SendOptions } from "../core/transport.ts";

/** Send options for tests that are not about timeouts or the body cap. */
export const ROOMY: SendOptions = {
  connectTimeoutMs: 5_000,
  readTimeoutMs: 5_000,
  totalTimeoutMs: 10_000,
  maxResponseBytes: 1_048_576,
};

/**
 * Registers an `afterEach` that closes what the test opened: first the upstreams, then the
 * transports. Each function returns what it was given.
 */
export function closeAfterEach(): {
  upstream<T extends LoopbackUpstream>(upstream: T): T;
  transport<T extends { close(): Promise<void> }>(transport: T): T;
} {
  let upstreams: LoopbackUpstream[] = [];
  let transports: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    await Promise.all(transports.map((transport) => transport.close()));
    upstreams = [];
    transports = [];
  });
  return {
    upstream: (upstream) => {
      upstreams.push(upstream);
      return upstream;
    },
    transport: (transport) => {
      transports.push(transport);
      return transport;
    },
  };
}

/** A running upstream: what it saw, and how to stop it. */
export class LoopbackUpstream {
  /** TCP connections accepted so far. */
  connections = 0;
  /** HTTP requests (HTTP upstream) or first data chunks (raw upstream) received so far. */
  requests = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor(server: Server) {
    this.#server = server;
    server.on("connection", (socket: Socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("error", () => undefined);
    });
  }

  /** The listening port. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once the `n`-th request (1-based) has arrived. */
  requestArrived(n: number): Promise<void> {
    if (this.requests >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Counts one request and wakes whoever waits for it. */
  recordRequest(): void {
    this.requests++;
    const due = this.#waiters.filter((waiter) => waiter.n <= this.requests);
    this.#waiters = this.#waiters.filter((waiter) => waiter.n > this.requests);
    for (const waiter of due) waiter.resolve();
  }

  /** Destroys every accepted socket, then closes the listener. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, "close");
  }
}

/** Starts an HTTP upstream; `handler` may leave responses pending (sockets die on close). */
export async function startHttpUpstream(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<LoopbackUpstream> {
  const server = createServer({ keepAliveTimeout: 30_000 }, (request, response) => {
    upstream.recordRequest();
    handler(request, response);
  });
  const upstream = new LoopbackUpstream(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return upstream;
}

/** Starts a raw TCP upstream; `onData` gets each socket's first chunk (the request head). */
export async function startRawUpstream(
  onData: (socket: Socket, chunk: Buffer) => void,
): Promise<LoopbackUpstream> {
  const server = createNetServer((socket) => {
    socket.once("data", (chunk) => {
      upstream.recordRequest();
      onData(socket, chunk);
    });
  });
  const upstream = new LoopbackUpstream(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return upstream;
}

/** A port on 127.0.0.1 that nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, "close");
  return port;
}
