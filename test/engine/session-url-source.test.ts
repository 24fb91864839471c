// Tests of the URL provider's settings: the JSON path to the value, and --session-url-from with its headers and body,
// whose errors name the flag and never a value.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { describeJsonPath, parseJsonPath, readJsonPath } from '../../functions/engine/json-path.js';
import { describeSessionUrlSource, parseSessionUrlSource } from '../../functions/engine/session-url-source.js';

const FIELDS = {
  from: '--session-url-from',
  path: '--session-url-path',
  headers: '--session-url-header',
  body: '--session-url-body',
};

/** The message of the error `run` throws. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidInputError');
}

describe('JSON paths', () => {
  const response = { data: { url: 'wss://a/1', 'ws-url': 'wss://b/2' }, sessions: [{ url: 'wss://c/3' }] };

  it('reads keys, indexes and quoted keys, with or without a leading $', () => {
    expect(readJsonPath(response, parseJsonPath('$.data.url', '--p'))).toBe('wss://a/1');
    expect(readJsonPath(response, parseJsonPath('data["ws-url"]', '--p'))).toBe('wss://b/2');
    expect(readJsonPath(response, parseJsonPath('sessions[0].url', '--p'))).toBe('wss://c/3');
    expect(readJsonPath(response, parseJsonPath('sessions[1].url', '--p'))).toBeUndefined();
    expect(readJsonPath(response, parseJsonPath('data.url.more', '--p'))).toBeUndefined();
    expect(readJsonPath(response, parseJsonPath('data.toString', '--p'))).toBeUndefined();
  });

  it('writes a path back as it reads best, and refuses what it cannot read', () => {
    expect(describeJsonPath(parseJsonPath('$.sessions[0]["ws url"]', '--p'))).toBe('sessions[0]["ws url"]');
    expect(errorOf(() => parseJsonPath('data..url', '--session-url-path'))).toBe(
      '--session-url-path: cannot read "data..url" from "..url": use keys and indexes like data.url or ' +
        'sessions[0].url',
    );
    expect(errorOf(() => parseJsonPath('$', '--session-url-path'))).toBe(
      '--session-url-path: must name a value, e.g. url or data.websocketUrl',
    );
  });
});

describe('parseSessionUrlSource', () => {
  const env = { API_KEY: 'key-sekrit' };

  it('parses the method and URL, headers and body with templates, and shows it without secrets', () => {
    const source = parseSessionUrlSource(
      {
        from: 'post https://api.example.com/v1/sessions?key={{env:API_KEY}}',
        path: 'data.url',
        headers: { Authorization: 'Bearer {{env:API_KEY}}' },
        body: '{"user":"probe-{{n}}"}',
        ratePerSecond: 20,
        timeoutSeconds: 5,
      },
      FIELDS,
      env,
    );
    expect(source.method).toBe('POST');
    expect(source.ratePerSecond).toBe(20);
    expect(describeSessionUrlSource(source)).toBe('POST https://api.example.com/v1/sessions?key=redacted -> data.url');
  });

  it('names the flag of each mistake', () => {
    const base = { from: 'POST https://api.example.com/s', path: 'url', headers: {}, timeoutSeconds: 5 };
    expect(errorOf(() => parseSessionUrlSource({ ...base, from: 'https://api.example.com/s' }, FIELDS, env))).toBe(
      '--session-url-from: must be "GET|POST|PUT URL", e.g. "POST https://api.example.com/sessions"',
    );
    expect(errorOf(() => parseSessionUrlSource({ ...base, from: 'POST wss://a/s' }, FIELDS, env))).toBe(
      '--session-url-from: must use http:// or https://, got wss://',
    );
    expect(errorOf(() => parseSessionUrlSource({ ...base, from: 'POST https://a/{{session}}' }, FIELDS, env))).toBe(
      '--session-url-from: {{session}} needs --session-url-from',
    );
    expect(errorOf(() => parseSessionUrlSource({ ...base, body: '{{env:NOPE}}' }, FIELDS, env))).toBe(
      '--session-url-body: {{env:NOPE}} is not set in the environment',
    );
    expect(errorOf(() => parseSessionUrlSource({ ...base, from: 'GET https://a/s', body: '{}' }, FIELDS, env))).toBe(
      '--session-url-body: a GET request has no body: use POST or PUT',
    );
    expect(errorOf(() => parseSessionUrlSource({ ...base, headers: { 'X-Key': '{{key}}' } }, FIELDS, env))).toMatch(
      /^--session-url-header X-Key: unknown template \{\{key\}\}/,
    );
  });
});
