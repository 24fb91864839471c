import { describe, expect, it } from 'vitest';
import {
  formatMilliseconds,
  formatMsAsSeconds,
  formatSeconds,
  formatTenths,
  round,
} from '../../functions/engine/units.js';

describe('round', () => {
  it('rounds to the given number of decimals', () => {
    expect(round(93.75, 1)).toBe(93.8);
    expect(round(0.123456, 4)).toBe(0.1235);
    expect(round(149.6, 0)).toBe(150);
    expect(round(2, 2)).toBe(2);
  });
});

describe('formatTenths', () => {
  it('gives at most one decimal and drops a trailing zero', () => {
    expect(formatTenths(12.46)).toBe('12.5');
    expect(formatTenths(12.04)).toBe('12');
  });
});

describe('formatSeconds', () => {
  it('takes seconds and shows one decimal unless told otherwise', () => {
    expect(formatSeconds(30)).toBe('30.0 s');
    expect(formatSeconds(1.234, 2)).toBe('1.23 s');
  });
});

describe('formatMsAsSeconds', () => {
  it('takes milliseconds and shows seconds', () => {
    expect(formatMsAsSeconds(1250, 2)).toBe('1.25 s');
    expect(formatMsAsSeconds(90_000)).toBe('90.0 s');
  });
});

describe('formatMilliseconds', () => {
  it('takes milliseconds and shows one decimal', () => {
    expect(formatMilliseconds(812.44)).toBe('812.4 ms');
  });
});
