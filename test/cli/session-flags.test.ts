// The flags of endpoints that need more than a URL (issue 14), validated before anything is sent: each error names
// the flag and what is allowed, and never echoes a value that may be secret.
import { describe, expect, it } from 'vitest';
import { parseRunFlags, type RawRunFlags } from '../../bin/cli/run-options.js';
import { DEFAULT_RUN_FLAGS } from '../support/run-flags.js';

const files: Record<string, string> = { 'init.json': '{"type":"connection_init","payload":{"token":"{{env:TOKEN}}"}}' };
const context = {
  env: { TOKEN: 'env-s3cret-value' },
  readFile: (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return text;
  },
};
const parse = (flags: Partial<RawRunFlags>, url = 'ws://127.0.0.1:9/socket') =>
  parseRunFlags(url, { ...DEFAULT_RUN_FLAGS, ...flags }, undefined, context);

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

describe('the session flags', () => {
  it('reads init messages in order, from @file too, a /regex/ ready message, and the default ready timeout', () => {
    const settings = parse({ initMessage: ['@init.json', '{"type":"subscribe"}'], readyWhen: '/connection_ack/i' });
    expect(settings.session).toEqual({
      initMessages: [files['init.json'], '{"type":"subscribe"}'],
      readyWhen: { kind: 'regex', source: 'connection_ack', flags: 'i' },
      readyTimeoutSeconds: 10,
    });
  });

  it('takes the region from an API Gateway host and signs for execute-api by default', () => {
    const url = 'wss://abc123defg.execute-api.eu-central-1.amazonaws.com/prod';
    expect(parse({ sigv4: true }, url).sigv4).toEqual({ region: 'eu-central-1', service: 'execute-api' });
  });

  it('reads the URL provider with its header, rate and timeout', () => {
    const settings = parse({
      sessionUrlFrom: 'POST http://127.0.0.1:9/sessions',
      sessionUrlPath: 'data.url',
      sessionUrlHeader: ['x-api-key: {{env:TOKEN}}'],
      sessionUrlRate: '5',
    });
    expect(settings.sessionUrlSource).toEqual({
      from: 'POST http://127.0.0.1:9/sessions',
      path: 'data.url',
      headers: { 'x-api-key': '{{env:TOKEN}}' },
      ratePerSecond: 5,
      timeoutSeconds: 10,
    });
  });

  it.each([
    [{ initMessage: ['@missing.json'] }, '--init-message: cannot read @missing.json (ENOENT)'],
    [{ initMessage: ['{"token":"{{env:NOPE}}"}'] }, '--init-message'],
    [{ readyWhen: '/(/' }, '--ready-when'],
    [{ readyWhen: 'ack', readyTimeout: '0' }, '--ready-timeout'],
    [{ sessionUrlPath: 'data.url' }, '--session-url-path: is an option of --session-url-from, which is not given'],
    [{ sessionUrlFrom: 'POST http://127.0.0.1:9/s' }, '--session-url-path: give the JSON path'],
    [{ sessionUrlFrom: 'DELETE http://127.0.0.1:9/s', sessionUrlPath: 'url' }, '--session-url-from'],
    [{ sigv4Region: 'eu-west-1' }, '--sigv4-region: signs with --sigv4, which is not given'],
    [{ sigv4: true, sigv4Region: 'Europe' }, '--sigv4-region: must be an AWS region like eu-west-1'],
    [{ header: ['Authorization: Bearer {{env:MISSING}}'] }, 'MISSING'],
  ])('refuses %j, naming the flag and never a value', (flags, message) => {
    const text = refusal(flags);
    expect(text).toContain(message);
    expect(text).not.toContain('env-s3cret-value');
  });
});
