// Tests of the compact `--simulate` spec: every key, the defaults, `accept`,
// the error messages, and the one-line description.
import { describe, it, expect } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';

function parseError(spec: string): InvalidInputError {
  try {
    parseSimulatorSpec(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('--simulate');
    return error as InvalidInputError;
  }
  throw new Error(`expected "${spec}" to be refused`);
}

describe('parseSimulatorSpec', () => {
  it('reads accept as accept-everything', () => {
    expect(parseSimulatorSpec('accept')).toEqual({});
    expect(parseSimulatorSpec('  accept ')).toEqual({});
  });

  it('reads cap with the default 503 response', () => {
    expect(parseSimulatorSpec('cap=150')).toEqual({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
  });

  it('reads cap-response as a status, reset or queue, and retry-after for the cap status', () => {
    expect(parseSimulatorSpec('cap=5,cap-response=429,retry-after=7')).toEqual({
      cap: { limit: 5, response: { kind: 'status', status: 429, retryAfterSeconds: 7 } },
    });
    expect(parseSimulatorSpec('cap=5,cap-response=reset')).toEqual({ cap: { limit: 5, response: { kind: 'reset' } } });
    expect(parseSimulatorSpec('cap=5, cap-response=queue')).toEqual({ cap: { limit: 5, response: { kind: 'queue' } } });
  });

  it('reads rate with burst defaulting to the rate and retry-after defaulting to 1', () => {
    expect(parseSimulatorSpec('rate=20')).toEqual({ rateLimit: { perSecond: 20, burst: 20, retryAfterSeconds: 1 } });
    expect(parseSimulatorSpec('rate=0.5')).toEqual({ rateLimit: { perSecond: 0.5, burst: 1, retryAfterSeconds: 1 } });
    expect(parseSimulatorSpec('rate=20,burst=40,retry-after=3')).toEqual({
      rateLimit: { perSecond: 20, burst: 40, retryAfterSeconds: 3 },
    });
  });

  it('applies retry-after to both the rate limit and the cap status', () => {
    expect(parseSimulatorSpec('rate=10,cap=100,retry-after=2')).toEqual({
      rateLimit: { perSecond: 10, burst: 10, retryAfterSeconds: 2 },
      cap: { limit: 100, response: { kind: 'status', status: 503, retryAfterSeconds: 2 } },
    });
  });

  it('reads idle-timeout, close-after (default code 1001), close-code, reject and port', () => {
    expect(parseSimulatorSpec('idle-timeout=4')).toEqual({ idleTimeoutSeconds: 4 });
    expect(parseSimulatorSpec('idle-timeout=0.5')).toEqual({ idleTimeoutSeconds: 0.5 });
    expect(parseSimulatorSpec('close-after=30')).toEqual({ closeAfter: { seconds: 30, code: 1001 } });
    expect(parseSimulatorSpec('close-after=1.5,close-code=4000')).toEqual({ closeAfter: { seconds: 1.5, code: 4000 } });
    expect(parseSimulatorSpec('reject=401')).toEqual({ rejectAll: 401 });
    expect(parseSimulatorSpec('port=9000')).toEqual({ port: 9000 });
    expect(parseSimulatorSpec('port=0')).toEqual({ port: 0 });
  });

  it('reads degrade-after with a handshake delay of 20 ms per connection beyond it, or degrade-delay', () => {
    expect(parseSimulatorSpec('degrade-after=20')).toEqual({ degradeAfter: { open: 20, handshakeDelayMs: 20 } });
    expect(parseSimulatorSpec('degrade-after=5,degrade-delay=0')).toEqual({
      degradeAfter: { open: 5, handshakeDelayMs: 0 },
    });
    expect(parseError('degrade-after=0').message).toBe(
      '--simulate: degrade-after must be a whole number of open connections from 1 to 100000, got "0"',
    );
    expect(parseError('degrade-after=5,degrade-delay=soon').message).toBe(
      '--simulate: degrade-delay must be a whole number of milliseconds from 0 to 10000, got "soon"',
    );
    expect(parseError('degrade-delay=5').message).toBe('--simulate: degrade-delay needs degrade-after');
  });

  it('reads fixed-window and sliding-window as N/W, with a Retry-After until the window frees or retry-after', () => {
    expect(parseSimulatorSpec('fixed-window=100/60')).toEqual({ window: { kind: 'fixed', count: 100, seconds: 60 } });
    expect(parseSimulatorSpec('sliding-window=20/1.5,retry-after=0')).toEqual({
      window: { kind: 'sliding', count: 20, seconds: 1.5, retryAfterSeconds: 0 },
    });
    expect(parseError('fixed-window=20').message).toBe(
      '--simulate: fixed-window must be N/W: from 1 to 100000 upgrades per a number of seconds above 0, at most ' +
        '86400, got "20"',
    );
    expect(parseError('sliding-window=0/2').message).toContain('sliding-window must be N/W');
    expect(parseError('fixed-window=5/1,sliding-window=5/1').message).toBe(
      '--simulate: fixed-window and sliding-window cannot be given together',
    );
  });

  it('reads queue-wait as a hold before the cap status, and refuses it without cap or with reset or queue', () => {
    expect(parseSimulatorSpec('cap=10,queue-wait=2')).toEqual({
      cap: { limit: 10, response: { kind: 'status', status: 503, queueSeconds: 2 } },
    });
    expect(parseError('queue-wait=2').message).toBe('--simulate: queue-wait needs cap');
    expect(parseError('cap=3,cap-response=reset,queue-wait=1').message).toBe(
      '--simulate: queue-wait needs cap-response to be an HTTP status, got "reset"',
    );
  });

  it('names an unknown key and lists the allowed ones', () => {
    expect(parseError('cpa=5').message).toBe(
      '--simulate: unknown key "cpa" (allowed: cap, cap-response, retry-after, rate, burst, idle-timeout, ' +
        'close-after, close-code, reject, degrade-after, degrade-delay, close-tcp, bad-frame-after, answer, per, ' +
        'session-cap, session-close-code, port, fixed-window, sliding-window, queue-wait, url-provider, ' +
        'url-provider-port, url-provider-rate, url-provider-cap)',
    );
  });

  it('names the key and value of a bad number', () => {
    expect(parseError('cap=x').message).toBe('--simulate: cap must be a whole number from 1 to 100000, got "x"');
    expect(parseError('cap=1.5').message).toBe('--simulate: cap must be a whole number from 1 to 100000, got "1.5"');
    expect(parseError('cap=0').message).toBe('--simulate: cap must be a whole number from 1 to 100000, got "0"');
    expect(parseError('burst=-1,rate=5').message).toBe(
      '--simulate: burst must be a whole number from 1 to 100000, got "-1"',
    );
    expect(parseError('idle-timeout=0').message).toBe(
      '--simulate: idle-timeout must be a number of seconds above 0, at most 86400, got "0"',
    );
    expect(parseError('close-after=soon').message).toContain('close-after must be a number of seconds above 0');
    expect(parseError('rate=1e3').message).toContain('rate must be a number of handshakes per second above 0');
    expect(parseError('port=65536').message).toBe(
      '--simulate: port must be a whole number from 0 to 65535, got "65536"',
    );
    expect(parseError('cap=5,retry-after=2.5').message).toBe(
      '--simulate: retry-after must be a whole number of seconds from 0 to 86400, got "2.5"',
    );
  });

  it('refuses statuses outside 400-599 and unsendable close codes', () => {
    expect(parseError('reject=200').message).toBe(
      '--simulate: reject must be an HTTP status from 400 to 599, got "200"',
    );
    expect(parseError('cap=5,cap-response=600').message).toBe(
      '--simulate: cap-response must be an HTTP status from 400 to 599, reset or queue, got "600"',
    );
    expect(parseError('cap=5,cap-response=drop').message).toContain('cap-response must be');
    expect(parseError('close-after=1,close-code=1006').message).toBe(
      '--simulate: close-code must be a close code that may be sent: 1000-1003, 1007-1014 or 3000-4999, got "1006"',
    );
    expect(parseError('close-after=1,close-code=5000').message).toContain('got "5000"');
  });

  it('refuses malformed pairs, repeated keys, an empty spec and keys missing their partner', () => {
    expect(parseError('cap').message).toBe('--simulate: expected key=value, got "cap"');
    expect(parseError('cap=5,,').message).toBe('--simulate: expected key=value, got ""');
    expect(parseError('cap=5,cap=6').message).toBe('--simulate: key "cap" is given more than once');
    expect(parseError('').message).toContain('--simulate: empty spec');
    expect(parseError('cap-response=reset').message).toBe('--simulate: cap-response needs cap');
    expect(parseError('burst=5').message).toBe('--simulate: burst needs rate');
    expect(parseError('close-code=4000').message).toBe('--simulate: close-code needs close-after');
    expect(parseError('retry-after=2').message).toBe(
      '--simulate: retry-after needs cap or rate or fixed-window or sliding-window',
    );
  });
});

describe('describeSimulator', () => {
  it('describes each limit in one line', () => {
    expect(describeSimulator({})).toBe('accepts everything');
    expect(describeSimulator({ port: 9000 })).toBe('accepts everything');
    expect(describeSimulator(parseSimulatorSpec('cap=150,idle-timeout=4'))).toBe('cap 150 (503), idle timeout 4 s');
    expect(describeSimulator(parseSimulatorSpec('cap=10,cap-response=reset'))).toBe('cap 10 (reset)');
    expect(describeSimulator(parseSimulatorSpec('cap=10,cap-response=queue'))).toBe('cap 10 (queue)');
    expect(describeSimulator(parseSimulatorSpec('rate=5,cap=10,retry-after=2'))).toBe(
      'rate limit 5/s, burst 5 (429, retry after 2 s), cap 10 (503, retry after 2 s)',
    );
    expect(describeSimulator(parseSimulatorSpec('close-after=30'))).toBe('closes after 30 s with 1001');
    expect(describeSimulator(parseSimulatorSpec('fixed-window=100/60'))).toBe(
      'fixed window of 100 upgrades per 60 s (429, retry after the seconds until it frees)',
    );
    expect(describeSimulator(parseSimulatorSpec('sliding-window=20/2,retry-after=0'))).toBe(
      'sliding window of 20 upgrades per 2 s (429, retry after 0 s)',
    );
    expect(describeSimulator(parseSimulatorSpec('cap=10,queue-wait=2'))).toBe(
      'cap 10 (503 after holding the upgrade 2 s)',
    );
    expect(describeSimulator(parseSimulatorSpec('reject=403'))).toBe('rejects every upgrade with 403');
    expect(describeSimulator(parseSimulatorSpec('degrade-after=20'))).toBe(
      'degrades beyond 20 open (no pongs, handshakes 20 ms later per connection beyond)',
    );
  });
});
