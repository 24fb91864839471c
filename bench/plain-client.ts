/**
 * The baseline of the benchmark: what a developer would write with plain
 * `ws` to do the probe's work. It opens the workload's connections at the
 * paced rate with the same bound on handshakes in flight, keeps each alive
 * with a protocol ping every interval (ending it when the previous ping got
 * no pong, the heartbeat from the ws README), and closes with 1000.
 * The benchmark is the one place outside functions/connection/ that opens
 * client sockets with `ws`, because raw `ws` is what it compares against.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { sourceAddressOf } from '../functions/engine/source-addresses.js';
import { countReason, settlesWithin, type LoadClient, type Tally, type Workload } from './measure.js';

/** How long connections get to complete the closing handshake before they are destroyed (as the probe). */
const CLOSE_GRACE_MS = 3000;

/** A LoadClient made of plain ws sockets. */
export function createPlainClient(workload: Workload): LoadClient {
  const sockets: WebSocket[] = [];
  const ended: Promise<void>[] = [];
  const slotWaiters: (() => void)[] = [];
  const tally: Tally = { handshakeFailures: 0, drops: 0, byReason: {} };
  let opened = 0;
  let open = 0;
  let settled = 0;
  let inFlight = 0;
  let closing = false;
  let allSettled: () => void = () => undefined;

  const settle = () => {
    inFlight -= 1;
    settled += 1;
    slotWaiters.shift()?.();
    if (settled === workload.connections) allSettled();
  };

  const connect = () => {
    inFlight += 1;
    // The source addresses in turn, as the probe takes them within a shard (sourceAddressOf; one shard here).
    const localAddress = sourceAddressOf(sockets.length, 0, workload.sourceAddresses ?? []);
    const socket = new WebSocket(workload.url, {
      perMessageDeflate: false,
      handshakeTimeout: workload.handshakeTimeoutSeconds * 1000,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    sockets.push(socket);
    let isOpen = false;
    let alive = true;
    let pongMissed = false;
    let heartbeat: NodeJS.Timeout | undefined;
    socket.on('open', () => {
      isOpen = true;
      opened += 1;
      open += 1;
      settle();
      heartbeat = setInterval(() => {
        if (!alive) {
          pongMissed = true;
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, workload.pingSeconds * 1000);
    });
    socket.on('pong', () => (alive = true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (isOpen || closing) return;
      tally.handshakeFailures += 1;
      countReason(tally, error.code ?? error.message);
    });
    ended.push(
      new Promise((resolve) =>
        socket.on('close', (code) => {
          clearInterval(heartbeat);
          if (!isOpen) settle();
          else {
            open -= 1;
            if (!closing) {
              tally.drops += 1;
              countReason(tally, pongMissed ? 'pong-timeout' : `close ${code}`);
            }
          }
          resolve();
        }),
      ),
    );
  };

  return {
    get opened() {
      return opened;
    },
    get open() {
      return open;
    },
    async ramp(onRampStart) {
      const everySettled = new Promise<void>((resolve) => (allSettled = resolve));
      const intervalMs = 1000 / workload.connectRate;
      if (workload.startAt !== undefined) await sleep(Math.max(0, workload.startAt - Date.now()));
      onRampStart();
      const rampStart = performance.now();
      for (let k = 0; k < workload.connections && !closing; k += 1) {
        const wait = rampStart + k * intervalMs - performance.now();
        if (wait > 0) await sleep(wait);
        while (inFlight >= workload.maxInFlight && !closing)
          await new Promise<void>((resolve) => slotWaiters.push(resolve));
        if (closing) break;
        connect();
      }
      if (!closing) await everySettled;
    },
    async close() {
      closing = true;
      slotWaiters.splice(0).forEach((wake) => wake());
      for (const socket of sockets) {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'benchmark finished');
        else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      }
      const allEnded = Promise.all(ended).then(() => undefined);
      if (!(await settlesWithin(allEnded, CLOSE_GRACE_MS))) sockets.forEach((socket) => socket.terminate());
      await allEnded;
      return tally;
    },
  };
}
