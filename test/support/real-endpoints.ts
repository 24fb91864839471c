/**
 * WebSocket servers on 127.0.0.1 shaped like the endpoints issue 14 is about,
 * for tests that run the probe (or the CLI) against them: limits kept per
 * source address or per header value (the simulator's ScopedAdmission), and a
 * graphql-ws style session gate (the simulator's SessionGate). Each server is
 * started on port 0 and stopped by the `stop` it returns.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ScopedAdmission, type ScopedLimitsOptions } from '../../functions/simulator/scoped-admission.js';
import { SessionGate, type SessionGateOptions } from '../../functions/simulator/session-gate.js';

/** A started server. */
export interface RunningEndpoint {
  url: string;
  stop(): Promise<void>;
}

/**
 * A server whose upgrades go through `admission` (refusals with its status and Retry-After) and, when `gate` is
 * given, whose connections then go behind a session gate.
 */
async function startEndpoint(admission?: ScopedAdmission, gate?: SessionGate): Promise<RunningEndpoint> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const decision = admission?.admit(req);
    if (decision && !decision.admitted) {
      const retryAfter =
        decision.retryAfterSeconds === undefined ? '' : `Retry-After: ${decision.retryAfterSeconds}\r\n`;
      socket.end(`HTTP/1.1 ${decision.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`);
      return;
    }
    if (decision) socket.once('close', decision.release);
    wss.handleUpgrade(req, socket, head, (ws) => gate?.attach(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`,
    async stop() {
      gate?.stop();
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server with caps and rate limits per source address or per header value. */
export async function startScopedEndpoint(
  options: ScopedLimitsOptions,
): Promise<RunningEndpoint & { admission: ScopedAdmission }> {
  const admission = new ScopedAdmission(options);
  return { ...(await startEndpoint(admission)), admission };
}

/** A graphql-ws style server: every connection is upgraded, and counts as a session only once the gate acks it. */
export async function startGatedEndpoint(
  options: SessionGateOptions,
): Promise<RunningEndpoint & { gate: SessionGate }> {
  const gate = new SessionGate(options);
  return { ...(await startEndpoint(undefined, gate)), gate };
}
