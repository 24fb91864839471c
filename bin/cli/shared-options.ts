/**
 * The options several commands take, each declared once: its flag, its
 * argument name and, where the commands agree, its help text and default.
 * Where a command gives an option a meaning of its own (`--json` prints
 * that command's answer, `--target-id` filters runs or names the target),
 * the command passes the help text.
 */
import { Option, type Command } from 'commander';
import { RUN_DEFAULTS } from './run-options.js';

/** `--store <dir>`: the embedded run store, `.ws-ceiling` unless given. */
export function storeOption(): Option {
  return new Option('--store <dir>', 'directory of the embedded run store').default(RUN_DEFAULTS.store);
}

/** ` --store DIR` for a hint that names a command to run next, or nothing for the default store. */
export function storeFlag(store: string): string {
  return store === RUN_DEFAULTS.store ? '' : ` --store ${store}`;
}

/** `--json`: print the command's answer as JSON; `description` says what is printed. */
export function jsonOption(description: string): Option {
  return new Option('--json', description);
}

/** `--target-id <id>`; `description` says what the target id does for the command. */
export function targetIdOption(description: string): Option {
  return new Option('--target-id <id>', description);
}

/** `--region <region>`, an AWS region; `description` says what the command does with it. */
export function regionOption(description: string): Option {
  return new Option('--region <region>', description);
}

/** The required `--target-id` and `--region` of a command against a deployed target (invoke, stop, pause, resume). */
export function addDeployedTargetOptions(command: Command): Command {
  return command
    .addOption(targetIdOption('target id from the config').makeOptionMandatory())
    .addOption(regionOption('AWS region the target is deployed in').makeOptionMandatory());
}
