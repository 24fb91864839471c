import { describe, expect, it } from 'vitest';
import { round } from '../../functions/engine/percentiles.js';

describe('round', () => {
  it('rounds to the given number of decimals', () => {
    expect(round(93.75, 1)).toBe(93.8);
    expect(round(0.123456, 4)).toBe(0.1235);
    expect(round(149.6, 0)).toBe(150);
    expect(round(2, 2)).toBe(2);
  });
});
