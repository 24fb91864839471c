/**
 * Headless Chromium for the report's browser test: Debian's `chromium`
 * package at /usr/bin/chromium, installed on first use by
 * scripts/ensure-chromium.sh (as root with apt-get), driven by playwright-core.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Where Debian's chromium package puts the browser. */
const CHROMIUM_PATH = '/usr/bin/chromium';

/** The script that installs it when it is missing. */
const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-chromium.sh', import.meta.url));

/** Longest an installation may take on a fresh machine. */
export const CHROMIUM_INSTALL_TIMEOUT_MS = 5 * 60_000;

/**
 * Makes sure Chromium is installed and returns its path. Rejects with the
 * script's explanation when it is missing and cannot be installed here.
 */
export async function ensureChromium(): Promise<string> {
  try {
    await promisify(execFile)(ENSURE_SCRIPT, [], { timeout: CHROMIUM_INSTALL_TIMEOUT_MS });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || `scripts/ensure-chromium.sh failed: ${String(error)}`, { cause: error });
  }
  return CHROMIUM_PATH;
}
