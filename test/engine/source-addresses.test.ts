// Tests of --source-address parsing (IPv4 and IPv6, errors that name the flag and the entry) and of spreading
// connections over the addresses in turn by their number.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { parseSourceAddresses, sourceAddressOf } from '../../functions/engine/source-addresses.js';

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

describe('parseSourceAddresses', () => {
  it('reads IPv4 and IPv6 addresses with their family', () => {
    expect(parseSourceAddresses('127.0.0.1, 127.0.0.2,::1,fe80::1', '--source-address')).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
      { address: '::1', family: 6 },
      { address: 'fe80::1', family: 6 },
    ]);
  });

  it('names the flag and the entry that is not an address, a repeat, or too many', () => {
    expect(errorOf(() => parseSourceAddresses('127.0.0.1,localhost', '--source-address'))).toBe(
      '--source-address: must be IP addresses separated by commas, e.g. 10.0.0.5,10.0.0.6; got "localhost"',
    );
    expect(errorOf(() => parseSourceAddresses('10.0.0.256', '--source-address'))).toMatch(/got "10\.0\.0\.256"$/);
    expect(errorOf(() => parseSourceAddresses('1::2::3', '--source-address'))).toMatch(/got "1::2::3"$/);
    expect(errorOf(() => parseSourceAddresses('127.0.0.1,', '--source-address'))).toMatch(/got ""$/);
    expect(errorOf(() => parseSourceAddresses('127.0.0.2,127.0.0.2', '--source-address'))).toBe(
      '--source-address: 127.0.0.2 is given twice',
    );
    const many = Array.from({ length: 65 }, (_, i) => `127.0.1.${i}`).join(',');
    expect(errorOf(() => parseSourceAddresses(many, '--source-address'))).toBe(
      '--source-address: at most 64 addresses, got 65',
    );
  });
});

describe('sourceAddressOf', () => {
  it("takes the addresses in turn within a shard, from the shard's own index", () => {
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    expect([0, 1, 2, 3, 4].map((id) => sourceAddressOf(id, 0, addresses))).toEqual([
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.1',
      '127.0.0.2',
    ]);
    expect([0, 1, 2].map((id) => sourceAddressOf(id, 1, addresses))).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.1']);
    expect(sourceAddressOf(5, 0, [])).toBeUndefined();
  });

  it('gives every address an even share of a run whose shards and addresses are both even', () => {
    // Shards of 5, 5, 5 and 3 connections over 2 addresses: by run-wide number (id × shards + shard) each shard would
    // leave from one address, shards 0 and 2 (10) from one and 1 and 3 (8) from the other; in turn per shard, 9 and 9.
    const perAddress = new Map<string, number>();
    for (const [shard, size] of [5, 5, 5, 3].entries()) {
      for (let id = 0; id < size; id += 1) {
        const address = sourceAddressOf(id, shard, ['a', 'b']) ?? '';
        perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(perAddress)).toEqual({ a: 9, b: 9 });
  });
});
