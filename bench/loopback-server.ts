/**
 * Child-process entry of the benchmark's target: a plain ws WebSocketServer
 * on 127.0.0.1, port 0, in its own process so its CPU and memory stay out of
 * the clients' figures. It accepts every upgrade, answers pings (ws does) and
 * never closes a connection itself. `loopback-server.js N` runs it as N
 * processes sharing one port (node:cluster, each accepting for itself), so a
 * load spread over several probe processes meets a server that can hold it.
 * Prints `{"port": n}` as one JSON line once every process listens; exits on
 * SIGTERM, or when its parent goes away (stdin closes).
 */
import cluster from 'node:cluster';
import { WebSocketServer } from 'ws';

const workers = Number(process.argv[2] ?? '1');

if (workers > 1 && cluster.isPrimary) runPrimary(workers);
else serve();

/** The server itself: in this process, or in one worker of the cluster. */
function serve(): void {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (socket) => socket.on('error', () => undefined));
  server.on('listening', () => {
    const { port } = server.address() as { port: number };
    if (cluster.isWorker) process.send?.({ port });
    else process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  server.on('error', (error) => {
    process.stderr.write(`loopback server: ${error.message}\n`);
    process.exit(1);
  });
  const stop = () => {
    for (const socket of server.clients) socket.terminate();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  if (cluster.isWorker) process.once('disconnect', stop);
  else {
    process.stdin.once('end', stop);
    process.stdin.resume();
  }
}

/** Starts `count` server processes on one port (each accepts its own connections) and stops them with itself. */
function runPrimary(count: number): void {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const ports: number[] = [];
  let stopping = false;
  for (let index = 0; index < count; index += 1) cluster.fork();
  cluster.on('message', (_worker, message: { port: number }) => {
    ports.push(message.port);
    if (ports.length === count) process.stdout.write(`${JSON.stringify({ port: ports[0] })}\n`);
  });
  cluster.on('exit', (_worker, code) => {
    if (!stopping) {
      process.stderr.write(`loopback server: a server process exited with code ${code}\n`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.stdin.once('end', stop);
  process.stdin.resume();
}
