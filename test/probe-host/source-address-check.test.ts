// Tests of the check that each --source-address belongs to this machine, by binding it: loopback addresses pass, an
// address the machine does not have is refused with the flag, the address and the error code.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { parseSourceAddresses } from '../../functions/engine/source-addresses.js';
import { checkSourceAddresses } from '../../functions/probe-host/source-address-check.js';

describe('checkSourceAddresses', () => {
  it('accepts addresses of this machine: all of 127.0.0.0/8 is loopback on Linux', async () => {
    await expect(
      checkSourceAddresses(parseSourceAddresses('127.0.0.1,127.0.0.2', '--source-address'), '--source-address'),
    ).resolves.toBeUndefined();
  });

  it('names an address this machine does not have, before anything is sent', async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never a real host's address. Binding sends nothing.
    const check = checkSourceAddresses(
      parseSourceAddresses('127.0.0.1,192.0.2.7', '--source-address'),
      '--source-address',
    );
    await expect(check).rejects.toThrow(InvalidInputError);
    await expect(check).rejects.toThrow(
      '--source-address: 192.0.2.7 is not an address of this machine (EADDRNOTAVAIL)',
    );
  });
});
