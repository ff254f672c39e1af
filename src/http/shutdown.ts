/**
 * Graceful shutdown (contract §8). On SIGTERM: readiness turns 503 at once, no new connection
 * is accepted, every answer carries `Connection: close`, a keep-alive connection is closed once
 * it has been idle a moment (so a request already on its way is not cut off), requests in
 * flight finish within the timeout; past it, what is left is destroyed.
 */
import type { Server, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Lifecycle } from './context';

/** How long a keep-alive connection may sit idle during shutdown before it is closed, ms. */
export const IDLE_GRACE_MS = 300;

export class ConnectionTracker {
  private readonly sockets = new Map<Socket, { busy: number; idleSince: number }>();
  /** Answers not yet finished: at shutdown those whose headers are still unwritten say close. */
  private readonly inFlight = new Set<ServerResponse>();

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { busy: 0, idleSince: Date.now() });
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const state = this.sockets.get(req.socket);
      if (!state) return;
      state.busy += 1;
      this.inFlight.add(res);
      res.once('close', () => {
        this.inFlight.delete(res);
        state.busy -= 1;
        state.idleSince = Date.now();
      });
    });
  }

  /**
   * Closes the connections that have been idle for at least `graceMs`, counting from `since`
   * at the earliest (the start of the shutdown: a connection idle for minutes may carry a
   * request at the very moment the signal arrives); returns how many remain.
   */
  closeIdle(graceMs: number, since = 0): number {
    const now = Date.now();
    for (const [socket, state] of this.sockets) {
      if (state.busy === 0 && now - Math.max(state.idleSince, since) >= graceMs) socket.destroy();
    }
    return this.sockets.size;
  }

  /**
   * Every answer from now on carries `Connection: close`: the ones still in flight here (new
   * requests get it from the app, which sees the lifecycle flag).
   */
  markClosing(): void {
    for (const res of this.inFlight) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
  }

  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  get size(): number {
    return this.sockets.size;
  }
}

/**
 * Stops accepting connections, leaving the open ones alone. `http.Server#close` would also
 * destroy every keep-alive connection that is idle at this instant (Node 19 and later), which
 * cuts off a request the client has just sent on it (ECONNRESET); those connections are
 * closed by the sweep below instead, after a grace period, or by their own
 * `Connection: close` answer.
 */
function stopListening(server: Server, onAllClosed: () => void): void {
  // The callback runs once the last connection has closed (with an error argument when the
  // server was not listening any more, which changes nothing here).
  net.Server.prototype.close.call(server, () => onAllClosed());
}

/** Resolves true when every connection finished in time, false when the rest had to be destroyed. */
export function drain(
  server: Server,
  tracker: ConnectionTracker,
  lifecycle: Lifecycle,
  timeoutMs: number,
): Promise<boolean> {
  lifecycle.shuttingDown = true;
  tracker.markClosing();
  const startedAt = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (clean: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(sweeper);
      clearTimeout(deadline);
      resolve(clean);
    };
    const sweeper = setInterval(() => tracker.closeIdle(IDLE_GRACE_MS, startedAt), 50);
    const deadline = setTimeout(() => {
      tracker.destroyAll();
      finish(false);
    }, timeoutMs);
    stopListening(server, () => finish(true));
  });
}
