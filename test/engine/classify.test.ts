import { describe, expect, it } from 'vitest';
import { classifyRecord, isFatal } from '../../functions/engine/classify.js';
import type { ConnectionRecord } from '../../functions/engine/types.js';

const base: ConnectionRecord = { shard: 0, id: 0, stage: 0, attemptedAt: 0, outcome: 'opened', settledAt: 1 };
const afterOpen = { anyOpenedBefore: true };
const first = { anyOpenedBefore: false };
const close = (closedBy: 'server' | 'probe' | 'pong-timeout', code: number) => ({
  at: 5,
  code,
  reason: '',
  frameReceived: code !== 1006,
  closedBy,
  ageMs: 4,
  sinceInboundMs: 4,
  sinceOutboundMs: 4,
});

describe('classifyRecord', () => {
  it.each([
    ['a refused upgrade with 503', { outcome: 'rejected', status: 503 }, afterOpen, 'handshake-rejected'],
    ['a refused upgrade with 429', { outcome: 'rejected', status: 429 }, afterOpen, 'handshake-rejected'],
    ['a 401', { outcome: 'rejected', status: 401 }, afterOpen, 'config-error'],
    ['a 404', { outcome: 'rejected', status: 404 }, afterOpen, 'config-error'],
    ['a redirect', { outcome: 'rejected', status: 302 }, afterOpen, 'config-error'],
    ['a handshake timeout after others opened', { outcome: 'handshake-timeout' }, afterOpen, 'handshake-timeout'],
    ['a handshake timeout on the first connection', { outcome: 'handshake-timeout' }, first, 'unreachable'],
    [
      'ECONNRESET after others opened',
      { outcome: 'connect-error', errorCode: 'ECONNRESET' },
      afterOpen,
      'connect-error',
    ],
    [
      'ECONNREFUSED on the first connection',
      { outcome: 'connect-error', errorCode: 'ECONNREFUSED' },
      first,
      'unreachable',
    ],
    ['a DNS failure', { outcome: 'connect-error', errorCode: 'ENOTFOUND' }, afterOpen, 'unreachable'],
    ['a TLS failure', { outcome: 'connect-error', errorCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, afterOpen, 'unreachable'],
    ['EMFILE', { outcome: 'connect-error', errorCode: 'EMFILE' }, afterOpen, 'probe-limited'],
    ['EADDRNOTAVAIL', { outcome: 'connect-error', errorCode: 'EADDRNOTAVAIL' }, afterOpen, 'probe-limited'],
    ['a bad subprotocol answer', { outcome: 'connect-error', errorCode: 'EHANDSHAKE' }, afterOpen, 'config-error'],
    ['a server close without a frame', { close: close('server', 1006) }, afterOpen, 'abnormal-closure'],
    ['a server close with 1013', { close: close('server', 1013) }, afterOpen, 'server-close'],
    ['a pong timeout', { close: close('pong-timeout', 1006) }, afterOpen, 'pong-timeout'],
    ['a 200 page instead of an upgrade', { outcome: 'rejected', status: 200 }, afterOpen, 'config-error'],
    [
      'bytes that are not HTTP on the first connection',
      { outcome: 'connect-error', errorCode: 'HPE_INVALID_CONSTANT' },
      first,
      'config-error',
    ],
    [
      'bytes that are not HTTP after others opened',
      { outcome: 'connect-error', errorCode: 'HPE_INVALID_CONSTANT' },
      afterOpen,
      'connect-error',
    ],
    [
      'a frame ws rejects after the upgrade',
      { close: { ...close('server', 1002), frameReceived: false, protocolError: 'Invalid WebSocket frame: x' } },
      afterOpen,
      'config-error',
    ],
  ] as const)('classifies %s', (_name, fields, context, expected) => {
    expect(classifyRecord({ ...base, ...fields }, context)).toBe(expected);
  });

  it.each([
    ['an open connection', {}],
    ['the probe’s own close, even with 1006', { close: close('probe', 1006) }],
    ['a cancelled attempt', { outcome: 'cancelled' }],
  ] as const)('does not count %s as a failure', (_name, fields) => {
    expect(classifyRecord({ ...base, ...fields }, afterOpen)).toBeUndefined();
  });
});

describe('isFatal', () => {
  it('ends the run on config errors, unreachable targets and the probe’s own limits only', () => {
    expect(['config-error', 'unreachable', 'probe-limited'].every((c) => isFatal(c as never))).toBe(true);
    expect(
      ['handshake-rejected', 'handshake-timeout', 'abnormal-closure', 'pong-timeout'].some((c) => isFatal(c as never)),
    ).toBe(false);
  });
});
