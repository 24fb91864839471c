/**
 * Whether each `--source-address` is an address of this machine: the probe
 * binds a listening socket to it on any port and lets go at once. An address
 * the machine does not have fails with EADDRNOTAVAIL before anything is sent,
 * instead of as a `probe-limited` run.
 */
import net from 'node:net';
import { InvalidInputError } from '../engine/errors.js';
import type { SourceAddress } from '../engine/source-addresses.js';

/** Throws InvalidInputError naming `field` and the first address this machine cannot bind, with the error code. */
export async function checkSourceAddresses(addresses: readonly SourceAddress[], field: string): Promise<void> {
  for (const { address } of addresses) {
    const code = await bindError(address);
    if (code !== undefined) {
      throw new InvalidInputError(field, `${address} is not an address of this machine (${code})`);
    }
  }
}

/** The error code of binding `address`, or undefined when it could be bound. */
function bindError(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'EINVAL'));
    server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
