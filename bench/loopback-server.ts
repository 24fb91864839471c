/**
 * Child-process entry of the benchmark's target: a plain ws WebSocketServer
 * on 127.0.0.1, port 0, in its own process so its CPU and memory stay out of
 * the clients' figures. It accepts every upgrade, answers pings (ws does) and
 * never closes a connection itself. Prints `{"port": n}` as one JSON line once
 * listening; exits on SIGTERM, or when its parent goes away (stdin closes).
 */
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
server.on('connection', (socket) => socket.on('error', () => undefined));
server.on('listening', () =>
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`),
);
server.on('error', (error) => {
  process.stderr.write(`loopback server: ${error.message}\n`);
  process.exit(1);
});

const stop = () => {
  for (const socket of server.clients) socket.terminate();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.stdin.once('end', stop);
process.stdin.resume();
