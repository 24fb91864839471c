// The flags of endpoints that need more than a URL (issue 14), validated before anything is sent: each error names
// the flag and what is allowed, and never echoes a value that may be secret.
import { describe, expect, it } from 'vitest';
import { parseRunFlags, type RawRunFlags } from '../../bin/cli/run-options.js';

const defaults: RawRunFlags = {
  hold: '60',
  rate: '50',
  maxInFlight: '100',
  handshakeTimeout: '10',
  ping: '20',
  pongTimeout: '10',
  header: [],
  subprotocol: [],
  tolerance: '0',
  maxConnections: '2000',
  shardSize: '900',
};
const parse = (flags: Partial<RawRunFlags>, url = 'ws://127.0.0.1:9/socket') =>
  parseRunFlags(url, { ...defaults, ...flags });

/** The message parseRunFlags refuses `flags` (and `url`) with. */
function refusal(flags: Partial<RawRunFlags>, url?: string): string {
  try {
    parse(flags, url);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('--source-address', () => {
  it('keeps the addresses in order, and leaves them out when not given', () => {
    expect(parse({ sourceAddress: '127.0.0.2, 127.0.0.3' }).sourceAddresses).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(parse({}).sourceAddresses).toBeUndefined();
  });

  it.each([
    [{ sourceAddress: '127.0.0.2,localhost' }, undefined, '--source-address: must be IP addresses separated by commas'],
    [{ sourceAddress: '127.0.0.2,127.0.0.2' }, undefined, '--source-address: 127.0.0.2 is given twice'],
    [{ sourceAddress: '127.0.0.2,::1' }, undefined, '--source-address: give addresses of one family'],
    [{ sourceAddress: '::1' }, 'ws://127.0.0.1:9/', 'the target 127.0.0.1 is an IPv4 address: give IPv4 source'],
    [{ sourceAddress: '127.0.0.2' }, 'ws://[::1]:9/', 'the target [::1] is an IPv6 address: give IPv6 source'],
  ])('refuses %j against %s', (flags, url, message) => {
    expect(refusal(flags, url)).toContain(message);
  });
});
