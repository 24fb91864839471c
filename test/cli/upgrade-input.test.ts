// Input the upgrade request would refuse is refused before anything is sent (exit 2, the flag named, no value
// echoed), never sent and stored as an unreachable or config-error run.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRunFlags, type RawRunFlags } from '../../bin/cli/run-options.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli, temporaryStore } from '../support/cli.js';
import { DEFAULT_RUN_FLAGS } from '../support/run-flags.js';

/** The message parseRunFlags refuses `flags` (and `url`) with. */
function refusal(flags: Partial<RawRunFlags>, url = 'wss://chat.example.com/socket'): string {
  try {
    parseRunFlags(url, { ...DEFAULT_RUN_FLAGS, ...flags });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('input the upgrade request refuses', () => {
  it.each([
    [{}, 'wss://x.example/socket#room', 'url: must not have a #fragment'],
    [{}, 'wss://x.example/socket#', 'url: must not have a #fragment'],
    [{}, 'ws://127.0.0.1:0/', 'url: port 0 is not a port a server listens on'],
    [{ header: ['X-Token: a\r\nX-Evil: s3cret'] }, '', '--header: the value of X-Token holds a character no header'],
    [{ header: ['X-Token: s3cret\u0000'] }, '', '--header: the value of X-Token holds a character no header'],
    [{ header: ['X-Token: s3cret€'] }, '', '--header: the value of X-Token holds a character no header'],
    [{ header: ['Upgrade: s3cret'] }, '', '--header: Upgrade is set by the WebSocket handshake itself'],
    [{ header: ['sec-websocket-key: s3cret'] }, '', '--header: sec-websocket-key is set by the WebSocket handshake'],
    [{ header: ['Sec-WebSocket-Protocol: s3cret'] }, '', 'request subprotocols with --subprotocol NAME'],
    [{ header: ['Content-Length: 5'] }, '', '--header: Content-Length does not belong in an upgrade request'],
    [{ header: ['X-Token: s3cret', 'x-token: s3cret'] }, '', '--header: x-token is given twice'],
    [{ subprotocol: ['chat', 'chat'] }, '', '--subprotocol: "chat" is given twice'],
  ])('refuses %j %s', (flags, url, message) => {
    const refused = refusal(flags, url || undefined);
    expect(refused).toContain(message);
    expect(refused).not.toContain('s3cret');
  });

  it('still takes tabs and Latin-1 in a header value, a Host header and a URL without a fragment', () => {
    const settings = parseRunFlags('wss://x.example/a?b=c', {
      ...DEFAULT_RUN_FLAGS,
      header: ['X-Name: café\tau lait', 'Host: other.example'],
    });
    expect(settings.headers).toEqual({ 'X-Name': 'café\tau lait', Host: 'other.example' });
  });
});

describe('ws-ceiling run with input the upgrade request refuses', () => {
  let store: { directory: string; remove: () => Promise<void> };
  let target: RunningSimulator;
  beforeEach(async () => {
    store = await temporaryStore();
    target = await startTargetSimulator({});
  });
  afterEach(async () => {
    await target.stop();
    await store.remove();
  });

  it('exits 2 before anything is sent, and stores no run', async () => {
    for (const args of [[`${target.url}/#x`], [target.url, '--header', 'X-A: 1\r\nX-B: 2']]) {
      const result = await runCli(['run', ...args, '--stages', '2', '--hold', '0.2', '--store', store.directory]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^error: (url|--header): /);
    }
    expect(target.stats().accepted).toBe(0);
    const history = await runCli(['history', '--json', '--store', store.directory]);
    expect(history.code).not.toBe(0);
    expect(history.stderr).toContain('no run store');
  });
});
