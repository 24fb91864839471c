/**
 * Local source addresses of a run (`--source-address A,B,…`): the probe binds
 * each connection to one of them, in turn by its number, so a run can leave
 * from several addresses. That lifts the one-address limit on connections to
 * one target address (one local port each), and lets diagnose's limit-scope
 * experiment tell a limit per source address from a global one. Parsed here
 * without touching the network; whether each address is this machine's is
 * checked by functions/probe-host/source-address-check.ts.
 */
import { InvalidInputError } from './errors.js';

/** Most source addresses a run may use. */
const MAX_SOURCE_ADDRESSES = 64;

/** A local address, with its family (a connection leaves from an address of its target's family). */
export interface SourceAddress {
  address: string;
  family: 4 | 6;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The family of an IP address written as text, or undefined when it is not one. */
function familyOf(text: string): 4 | 6 | undefined {
  if (IPV4.test(text)) return 4;
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  try {
    new URL(`http://[${text}]/`);
    return 6;
  } catch {
    return undefined;
  }
}

/**
 * Parses a comma-separated list of IP addresses; throws InvalidInputError naming `field` and the first entry that is
 * not an IP address, a repeated address, or too many.
 */
export function parseSourceAddresses(text: string, field: string): SourceAddress[] {
  const entries = text.split(',').map((entry) => entry.trim());
  const addresses: SourceAddress[] = [];
  for (const entry of entries) {
    const family = familyOf(entry);
    if (family === undefined) {
      throw new InvalidInputError(
        field,
        `must be IP addresses separated by commas, e.g. 10.0.0.5,10.0.0.6; got "${entry}"`,
      );
    }
    if (addresses.some((known) => known.address === entry))
      throw new InvalidInputError(field, `${entry} is given twice`);
    addresses.push({ address: entry, family });
  }
  if (addresses.length > MAX_SOURCE_ADDRESSES) {
    throw new InvalidInputError(field, `at most ${MAX_SOURCE_ADDRESSES} addresses, got ${addresses.length}`);
  }
  return addresses;
}

/**
 * The address connection `id` of `shard` leaves from: each shard takes the addresses in turn, starting at its own
 * index, so every address gets an even share of every shard, and of the run, whatever the number of shards (taking
 * them by the run-wide connection number would send every connection of a shard from one address when the shards
 * and the addresses are both even, past the share the self-check counted per address).
 */
export function sourceAddressOf<T>(id: number, shard: number, addresses: readonly T[]): T | undefined {
  return addresses.length === 0 ? undefined : addresses[(id + shard) % addresses.length];
}
