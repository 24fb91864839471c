// Tests of the session pieces of the engine: the secret-free excerpt, the session flags (--ready-when, --init-message
// with @file) and the session handshake's state machine: ready, error message, close and ready timeout, in any order.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { secretFreeExcerpt } from '../../functions/engine/secret-excerpt.js';
import { isErrorMessage, SessionHandshake } from '../../functions/engine/session-handshake.js';
import {
  parseReadyWhen,
  publicSessionSettings,
  readyTest,
  resolveInitMessage,
} from '../../functions/engine/session-settings.js';

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

describe('secretFreeExcerpt', () => {
  it('replaces known secrets, as sent, URL-encoded and JSON-escaped, before cutting', () => {
    const secret = 'p@ss "word"/1';
    const text = `bad token ${secret} or ${encodeURIComponent(secret)} in ${JSON.stringify({ t: secret })}`;
    expect(secretFreeExcerpt(text, [secret])).toBe('bad token redacted or redacted in {"t":"redacted"}');
  });

  it('hides token-like runs it was not told about, keeps plain words', () => {
    expect(secretFreeExcerpt('{"type":"connection_error","payload":"session eyJhbGciOi.J9x2Yk3aB7 expired"}', [])).toBe(
      '{"type":"connection_error","payload":"session redacted expired"}',
    );
  });

  it('never leaves the head of a secret that the cut would split', () => {
    const secret = 'tok-sekrit-value';
    const excerpt = secretFreeExcerpt(`${'x '.repeat(38)}${secret}`, [secret], 80);
    expect(excerpt).not.toContain('tok-');
    expect(excerpt.endsWith('…')).toBe(true);
    expect(excerpt).toHaveLength(80);
  });

  it('makes control characters and line breaks one space', () => {
    expect(secretFreeExcerpt('too many\r\n\tsessions\u0000', [])).toBe('too many sessions');
  });
});

describe('session settings', () => {
  it('reads --ready-when as text or as /regex/flags', () => {
    expect(parseReadyWhen('connection_ack', '--ready-when')).toEqual({ kind: 'text', text: 'connection_ack' });
    const regex = parseReadyWhen('/"type":\\s*"ready"/i', '--ready-when');
    expect(regex).toEqual({ kind: 'regex', source: '"type":\\s*"ready"', flags: 'i' });
    expect(readyTest(regex)('{"TYPE": "Ready"}')).toBe(true);
    expect(readyTest({ kind: 'text', text: 'connection_ack' })('{"type":"ka"}')).toBe(false);
  });

  it('names --ready-when and what is wrong', () => {
    expect(errorOf(() => parseReadyWhen('/(/', '--ready-when'))).toMatch(
      /^--ready-when: is not a valid regular expression: /,
    );
    expect(errorOf(() => parseReadyWhen('/x/g', '--ready-when'))).toBe(
      '--ready-when: regular expression flags may be i, m, s and u, got "g"',
    );
    expect(errorOf(() => parseReadyWhen('', '--ready-when'))).toBe(
      '--ready-when: must not be empty: give text the message contains, or /regex/',
    );
  });

  it('reads an @file init message through the reader, and names the file, never its contents, in errors', () => {
    const files: Record<string, string> = { 'init.json': '{"type":"connection_init","payload":{"token":"sekrit"}}' };
    const readFile = (path: string): string => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    };
    expect(resolveInitMessage('@init.json', '--init-message', readFile)).toBe(files['init.json']);
    expect(resolveInitMessage('{"type":"hello"}', '--init-message', readFile)).toBe('{"type":"hello"}');
    expect(errorOf(() => resolveInitMessage('@missing.json', '--init-message', readFile))).toBe(
      '--init-message: cannot read @missing.json (ENOENT)',
    );
    files['empty.json'] = '';
    expect(errorOf(() => resolveInitMessage('@empty.json', '--init-message', readFile))).toBe(
      '--init-message: @empty.json is empty',
    );
    files['big.json'] = 'x'.repeat(1024 * 1024 + 1);
    expect(errorOf(() => resolveInitMessage('@big.json', '--init-message', readFile))).toBe(
      '--init-message: @big.json has 1048577 bytes; at most 1048576',
    );
  });

  it('shows the init messages as a count only', () => {
    const shown = publicSessionSettings({
      initMessages: ['{"token":"sekrit"}', '{"type":"subscribe"}'],
      readyWhen: { kind: 'text', text: 'connection_ack' },
      readyTimeoutSeconds: 5,
    });
    expect(shown).toEqual({ initMessages: 2, readyWhen: 'connection_ack', readyTimeoutSeconds: 5 });
    expect(JSON.stringify(shown)).not.toContain('sekrit');
  });
});

describe('isErrorMessage', () => {
  it('is a JSON object whose type or event names an error', () => {
    expect(isErrorMessage('{"type":"connection_error","payload":{}}')).toBe(true);
    expect(isErrorMessage(' {"event":"Error"}')).toBe(true);
    expect(isErrorMessage('{"type":"connection_ack"}')).toBe(false);
    expect(isErrorMessage('error: not json')).toBe(false);
    expect(isErrorMessage('{"type":"error"')).toBe(false);
    expect(isErrorMessage('["error"]')).toBe(false);
  });
});

describe('SessionHandshake', () => {
  const readyWhen = { kind: 'text', text: 'connection_ack' } as const;

  function handshake(secrets: string[] = []): SessionHandshake {
    const session = new SessionHandshake({ readyWhen, readyTimeoutMs: 2000, secrets });
    session.opened(1000);
    return session;
  }

  it('is ready at the ready message, other messages before it ignored, and stays ready', () => {
    const session = handshake();
    expect(session.readyBy).toBe(3000);
    expect(session.message('{"type":"ka"}', 1100)).toEqual({ kind: 'waiting' });
    expect(session.message('{"type":"connection_ack"}', 1250)).toEqual({ kind: 'ready', readyMs: 250 });
    expect(session.closed(1011, 'boom', 1300)).toEqual({ kind: 'ready', readyMs: 250 });
    expect(session.deadlinePassed(3000)).toEqual({ kind: 'ready', readyMs: 250 });
  });

  it('is ready at the upgrade without a ready matcher', () => {
    const session = new SessionHandshake({ readyTimeoutMs: 2000, secrets: [] });
    expect(session.opened(1000)).toEqual({ kind: 'ready', readyMs: 0 });
  });

  it('rejects at an error message even when it contains the ready text, with a secret-free excerpt', () => {
    const session = handshake(['tok-sekrit']);
    const state = session.message('{"type":"connection_error","payload":"no connection_ack for tok-sekrit"}', 1400);
    expect(state).toEqual({
      kind: 'rejected',
      rejection: {
        reason: 'error-message',
        afterMs: 400,
        excerpt: '{"type":"connection_error","payload":"no connection_ack for redacted"}',
      },
    });
    expect(session.message('{"type":"connection_ack"}', 1500)).toBe(state);
  });

  it('rejects at a close before ready, keeping the code and the reason’s excerpt', () => {
    expect(handshake().closed(4429, 'Too many sessions', 1600)).toEqual({
      kind: 'rejected',
      rejection: { reason: 'closed', afterMs: 600, closeCode: 4429, excerpt: 'Too many sessions' },
    });
    expect(handshake().closed(1006, '', 1600)).toEqual({
      kind: 'rejected',
      rejection: { reason: 'closed', afterMs: 600, closeCode: 1006 },
    });
  });

  it('rejects at the ready deadline, never before it', () => {
    const session = handshake();
    expect(session.deadlinePassed(2999)).toEqual({ kind: 'waiting' });
    expect(session.deadlinePassed(3004)).toEqual({
      kind: 'rejected',
      rejection: { reason: 'ready-timeout', afterMs: 2004 },
    });
  });
});
