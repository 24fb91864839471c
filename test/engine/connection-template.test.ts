// Tests of per-connection templates: parsing with errors that name the field and the bad {{…}}, the environment
// check that never quotes a value, expansion of URLs (values after the authority percent-encoded), headers and
// init messages, the {{n}} numbering across shards, and the URL as it is shown.
import { describe, expect, it } from 'vitest';
import {
  checkEnvironment,
  connectionNumber,
  displayUrlTemplate,
  envSecretsOf,
  expandTemplate,
  expandUrlTemplate,
  isConstant,
  parseHeaderTemplates,
  parseTemplate,
  parseUrlTemplate,
  usesSession,
  type ConnectionValues,
} from '../../functions/engine/connection-template.js';
import { InvalidInputError } from '../../functions/engine/errors.js';

const NO_SESSION = { session: false };
const WITH_SESSION = { session: true };

function values(overrides: Partial<ConnectionValues> = {}): ConnectionValues {
  return { n: 7, shard: 1, uuid: '4f1c2a53-0e1b-4c55-9d3e-7a1b2c3d4e5f', env: {}, ...overrides };
}

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

describe('parseTemplate', () => {
  it('splits text and templates, spaces inside the braces allowed', () => {
    const template = parseTemplate('user-{{n}}-{{ shard }}/{{uuid}}?k={{env:API_KEY}}', '--header X-User', NO_SESSION);
    expect(template.parts).toEqual([
      { kind: 'text', text: 'user-' },
      { kind: 'n' },
      { kind: 'text', text: '-' },
      { kind: 'shard' },
      { kind: 'text', text: '/' },
      { kind: 'uuid' },
      { kind: 'text', text: '?k=' },
      { kind: 'env', name: 'API_KEY' },
    ]);
    expect(isConstant(template)).toBe(false);
    expect(isConstant(parseTemplate('Bearer abc', '--header Authorization', NO_SESSION))).toBe(true);
  });

  it('names the field and the unknown template, and what is allowed', () => {
    expect(errorOf(() => parseTemplate('id-{{id}}', '--header X-User', NO_SESSION))).toBe(
      '--header X-User: unknown template {{id}}: use {{n}}, {{shard}}, {{uuid}}, {{env:NAME}} or {{session}}',
    );
  });

  it('names an unclosed template and a bad environment variable name', () => {
    expect(errorOf(() => parseTemplate('user-{{n', 'url', NO_SESSION))).toBe(
      'url: template "{{n" is not closed with }}',
    );
    expect(errorOf(() => parseTemplate('{{env:1TOKEN}}', '--init-message', NO_SESSION))).toBe(
      '--init-message: {{env:1TOKEN}}: an environment variable name is letters, digits and _, not starting with a ' +
        'digit',
    );
  });

  it('allows {{session}} only with a URL provider', () => {
    expect(errorOf(() => parseTemplate('wss://a/?t={{session}}', 'url', NO_SESSION))).toBe(
      'url: {{session}} needs --session-url-from',
    );
    expect(usesSession(parseTemplate('wss://a/?t={{session}}', 'url', WITH_SESSION))).toBe(true);
  });
});

describe('environment', () => {
  const templates = [parseTemplate('Bearer {{env:CHAT_TOKEN}}', '--header Authorization', NO_SESSION)];

  it('names a variable that is not set, never a value', () => {
    expect(errorOf(() => checkEnvironment(templates, { OTHER: 'x' }, '--header Authorization'))).toBe(
      '--header Authorization: {{env:CHAT_TOKEN}} is not set in the environment',
    );
    expect(() => checkEnvironment(templates, { CHAT_TOKEN: '' }, '--header Authorization')).not.toThrow();
  });

  it('gives the values read as secrets, without empty ones', () => {
    const more = [...templates, parseTemplate('{{env:EMPTY}}{{env:CHAT_TOKEN}}', 'x', NO_SESSION)];
    expect(envSecretsOf(more, { CHAT_TOKEN: 'tok-sekrit', EMPTY: '' })).toEqual(['tok-sekrit']);
  });
});

describe('expandTemplate', () => {
  it('fills in one connection’s values', () => {
    const template = parseTemplate(
      '{"type":"connection_init","payload":{"user":"u{{n}}","token":"{{env:TOKEN}}","id":"{{uuid}}"}}',
      '--init-message',
      NO_SESSION,
    );
    expect(expandTemplate(template, values({ env: { TOKEN: 'tok-sekrit' } }))).toBe(
      '{"type":"connection_init","payload":{"user":"u7","token":"tok-sekrit",' +
        '"id":"4f1c2a53-0e1b-4c55-9d3e-7a1b2c3d4e5f"}}',
    );
  });
});

describe('connectionNumber', () => {
  it('numbers the connections of every shard uniquely from 0, below the largest stage plus the shard count', () => {
    // 3 shards sharing 10 connections as the plan splits them: 3, 3 and 4.
    const shares = [3, 3, 4];
    const numbers = shares.flatMap((count, shard) =>
      Array.from({ length: count }, (_, id) => connectionNumber(id, shard, shares.length)),
    );
    expect(new Set(numbers).size).toBe(10);
    expect(Math.min(...numbers)).toBe(0);
    expect(Math.max(...numbers)).toBeLessThan(10 + shares.length);
  });
});

describe('URL templates', () => {
  it('percent-encodes values in the path and query, keeps those in the authority as they are', () => {
    const env = { HOST: 'chat.example.com', ROOM: 'a b/c', TOKEN: 'x+y/z=' };
    const url = parseUrlTemplate(
      'wss://{{env:HOST}}/rooms/{{env:ROOM}}/{{n}}?token={{env:TOKEN}}',
      'url',
      env,
      NO_SESSION,
    );
    expect(expandUrlTemplate(url, values({ env }))).toBe('wss://chat.example.com/rooms/a%20b%2Fc/7?token=x%2By%2Fz%3D');
  });

  it('puts a whole URL from the environment in as it is', () => {
    const env = { WS_URL: 'wss://chat.example.com/socket?room=1' };
    const url = parseUrlTemplate('{{env:WS_URL}}', 'url', env, NO_SESSION);
    expect(expandUrlTemplate(url, values({ env }))).toBe('wss://chat.example.com/socket?room=1');
  });

  it('refuses a URL that is not ws:// or wss:// once filled in, without quoting the value', () => {
    const env = { WS_URL: 'https://sekrit.example.com/' };
    expect(errorOf(() => parseUrlTemplate('{{env:WS_URL}}', 'url', env, NO_SESSION))).toBe(
      'url: must use ws:// or wss://, got https://',
    );
    expect(errorOf(() => parseUrlTemplate('{{env:WS_URL}}', 'url', { WS_URL: 'not a url' }, NO_SESSION))).toBe(
      'url: must be a ws:// or wss:// URL (with its templates filled in), e.g. wss://chat.example.com/socket',
    );
    expect(errorOf(() => parseUrlTemplate('wss://a/{{env:MISSING}}', 'url', {}, NO_SESSION))).toBe(
      'url: {{env:MISSING}} is not set in the environment',
    );
  });

  it('shows the template with credentials gone, query values redacted and templates in the path as written', () => {
    const show = (source: string) => displayUrlTemplate(parseTemplate(source, 'url', WITH_SESSION));
    expect(show('wss://user:pw@chat-{{shard}}.example.com/rooms/{{n}}/{{env:ROOM}}?token={{env:TOKEN}}&x=1')).toBe(
      'wss://chat-{{shard}}.example.com/rooms/{{n}}/{{env:ROOM}}?token=redacted&x=redacted',
    );
    expect(show('{{env:WS_URL}}')).toBe('{{env:WS_URL}}');
    expect(show('wss://chat.example.com/socket?t={{session}}')).toBe('wss://chat.example.com/socket?t=redacted');
  });
});

describe('parseHeaderTemplates', () => {
  it('parses each value and names the header in errors', () => {
    const env = { TOKEN: 'tok-sekrit' };
    const templates = parseHeaderTemplates(
      { Authorization: 'Bearer {{env:TOKEN}}', 'X-Client': 'probe-{{n}}' },
      '--header',
      env,
      NO_SESSION,
    );
    expect(expandTemplate(templates['X-Client']!, values())).toBe('probe-7');
    expect(errorOf(() => parseHeaderTemplates({ 'X-Client': '{{nn}}' }, '--header', env, NO_SESSION))).toMatch(
      /^--header X-Client: unknown template \{\{nn\}\}/,
    );
  });

  it('refuses an environment value with a line break, never quoting it', () => {
    const message = errorOf(() =>
      parseHeaderTemplates({ Authorization: '{{env:TOKEN}}' }, '--header', { TOKEN: 'tok\r\nX-Evil: 1' }, NO_SESSION),
    );
    expect(message).toBe(
      '--header Authorization: {{env:TOKEN}} holds a line break or NUL, which a header value cannot',
    );
  });
});
