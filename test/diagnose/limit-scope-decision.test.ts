// Tests of the limit-scope decision: per source address, per credential and global, for caps and rate limits, with
// one or more other sources; and every case that decides nothing (a first source that did not fill the limit, a
// partial share, sources that disagree, a source that failed for another reason), which is undetermined, never a guess.
import { describe, expect, it } from 'vitest';
import {
  decideLimitScope,
  limitScopeSentence,
  type LimitScopeInput,
  type SourceFill,
} from '../../functions/diagnose/limit-scope-decision.js';

const CAP = { kind: 'concurrency-cap', count: 500 } as const;
const RATE = { kind: 'handshake-rate-limit', perSecond: 20 } as const;

function fill(label: string, admitted: number, refused: number, otherFailure?: string): SourceFill {
  return { label, admitted, refused, ...(otherFailure !== undefined ? { otherFailure } : {}) };
}

function decide(overrides: Partial<LimitScopeInput>): ReturnType<typeof decideLimitScope> {
  return decideLimitScope({
    limit: CAP,
    scopeKind: 'source-address',
    first: fill('127.0.0.1', 500, 25),
    others: [fill('127.0.0.2', 500, 25)],
    ...overrides,
  });
}

describe('decideLimitScope', () => {
  it('finds a cap per source address when a second address gets its own full share', () => {
    expect(decide({})).toEqual({
      kind: 'limit-scope',
      scope: 'source-address',
      perScope: 500,
      sources: 2,
    });
  });

  it('allows a cap’s share to fall short by 2 %, at least one connection, and no more', () => {
    expect(decide({ others: [fill('127.0.0.2', 490, 35)] })).toMatchObject({ scope: 'source-address' });
    expect(decide({ others: [fill('127.0.0.2', 489, 36)] })).toMatchObject({ kind: 'undetermined' });
    const small = { limit: { kind: 'concurrency-cap', count: 10 } as const, first: fill('127.0.0.1', 10, 5) };
    expect(decide({ ...small, others: [fill('127.0.0.2', 9, 6)] })).toMatchObject({ scope: 'source-address' });
    expect(decide({ ...small, others: [fill('127.0.0.2', 8, 7)] })).toMatchObject({ kind: 'undetermined' });
  });

  it('finds a cap per credential with an alternate header, naming no value', () => {
    expect(
      decide({
        scopeKind: 'credential',
        first: fill('the run’s credential', 500, 25),
        others: [fill('alt 1', 500, 4)],
      }),
    ).toEqual({
      kind: 'limit-scope',
      scope: 'credential',
      perScope: 500,
      sources: 2,
    });
  });

  it('finds a global cap when the second source is refused at once', () => {
    expect(decide({ others: [fill('127.0.0.2', 0, 20)] })).toEqual({
      kind: 'limit-scope',
      scope: 'global',
      perScope: 500,
      sources: 2,
    });
    // A slot freed meanwhile is still "at once", within 2 %.
    expect(decide({ others: [fill('127.0.0.2', 10, 20)] })).toMatchObject({ scope: 'global' });
    expect(decide({ others: [fill('127.0.0.2', 11, 20)] })).toMatchObject({ kind: 'undetermined' });
  });

  it('speaks of every other source when there are several', () => {
    const others = [fill('127.0.0.2', 500, 20), fill('127.0.0.3', 500, 20)];
    expect(decide({ others })).toMatchObject({ scope: 'source-address', sources: 3 });
    expect(
      limitScopeSentence({
        scope: 'source-address',
        sources: 3,
        by: 'source-address',
        limit: CAP,
        admitted: [500, 500, 500],
      }),
    ).toBe('The cap of 500 is per source address: 2 other addresses each got their own 500.');
    const refused = [fill('127.0.0.2', 0, 20), fill('127.0.0.3', 0, 20)];
    expect(decide({ scopeKind: 'credential', others: refused })).toMatchObject({ scope: 'global', sources: 3 });
    expect(
      limitScopeSentence({ scope: 'global', sources: 3, by: 'credential', limit: CAP, admitted: [500, 0, 0] }),
    ).toBe('The cap of 500 is global: 2 other credentials were refused at once.');
  });

  it('finds the scope of a rate limit from the handshakes let through before the first refusal, not the rate', () => {
    const first = fill('127.0.0.1', 30, 40);
    // perScope is what the first source got through: the measured 20/s was shared by every source of the ramp.
    expect(decide({ limit: RATE, first, others: [fill('127.0.0.2', 26, 44)] })).toEqual({
      kind: 'limit-scope',
      scope: 'source-address',
      perScope: 30,
      sources: 2,
    });
    expect(decide({ limit: RATE, first, others: [fill('127.0.0.2', 1, 69)] })).toEqual({
      kind: 'limit-scope',
      scope: 'global',
      perScope: 30,
      sources: 2,
    });
    expect(decide({ limit: RATE, first, others: [fill('127.0.0.2', 12, 58)] })).toMatchObject({
      kind: 'undetermined',
    });
  });

  it('is undetermined when the first source got too few handshakes through to compare a rate limit', () => {
    // With 3 through, a second source's 2 would read both as "its own share" and as "refused at once".
    expect(decide({ limit: RATE, first: fill('127.0.0.1', 3, 20), others: [fill('127.0.0.2', 2, 21)] })).toEqual({
      kind: 'undetermined',
      reason:
        "127.0.0.1 got only 3 handshakes through before its first refusal, too few to tell another source's own " +
        'share from a refusal at once (at least 4 needed)',
    });
    expect(decide({ limit: RATE, first: fill('127.0.0.1', 4, 20), others: [fill('127.0.0.2', 4, 21)] })).toMatchObject({
      scope: 'source-address',
    });
  });

  it('is undetermined when the first source did not fill the limit', () => {
    expect(decide({ first: fill('127.0.0.1', 500, 0) })).toEqual({
      kind: 'undetermined',
      reason: '127.0.0.1 did not fill the limit: 500 opened, 0 refused',
    });
  });

  it('is undetermined for a partial share, or sources that disagree', () => {
    expect(decide({ others: [fill('127.0.0.2', 120, 30)] })).toEqual({
      kind: 'undetermined',
      reason:
        '127.0.0.1 filled the limit (500 opened, 25 refused), but the other sources got neither their own full ' +
        'share nor were refused at once (127.0.0.2: 120 opened, 30 refused): the limit may be shared in part',
    });
    expect(decide({ others: [fill('127.0.0.2', 500, 20), fill('127.0.0.3', 0, 20)] })).toMatchObject({
      kind: 'undetermined',
    });
  });

  it('is undetermined when a source failed for another reason, such as a bad alternate credential', () => {
    expect(decide({ scopeKind: 'credential', others: [fill('alternate credential 1', 0, 0, 'HTTP 401 × 5')] })).toEqual(
      {
        kind: 'undetermined',
        reason: 'connections from alternate credential 1 failed for another reason (HTTP 401 × 5)',
      },
    );
    expect(decide({ others: [] })).toEqual({
      kind: 'undetermined',
      reason: 'there was no second source to compare with',
    });
  });
});

describe('limitScopeSentence', () => {
  it('quotes a cap per source, and for a rate limit the handshakes let through, never a rate per source', () => {
    const base = { sources: 2, by: 'source-address', perScope: 500 } as const;
    expect(limitScopeSentence({ ...base, scope: 'source-address', limit: CAP, admitted: [500, 498] })).toBe(
      'The cap of 500 is per source address: a second address got its own 498.',
    );
    expect(limitScopeSentence({ ...base, scope: 'global', limit: CAP, admitted: [500, 0] })).toBe(
      'The cap of 500 is global: a second address was refused at once.',
    );
    expect(
      limitScopeSentence({ ...base, scope: 'source-address', sources: 3, limit: RATE, admitted: [9, 12, 11] }),
    ).toBe(
      'The handshake rate limit is per source address: 2 other addresses each got at least 11 handshakes through ' +
        'after the first was refused at 9.',
    );
    expect(limitScopeSentence({ ...base, scope: 'global', by: 'credential', limit: RATE, admitted: [9, 0] })).toBe(
      'The handshake rate limit is global: a second credential was refused at once.',
    );
  });
});
