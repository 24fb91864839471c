/**
 * `ws-ceiling config check <file> [--region R] [--json]`: validates a config
 * file with the same schema as the CDK app and the plan step, and shows what
 * it would deploy per target: regions, schedule, stages, worker Lambdas and
 * their timeout, and an upper bound of the Lambda cost per run and per month.
 * A bad file exits 2 with the path of the bad field.
 */
import type { Command } from 'commander';
import type { OnCallEndpoint, TargetConfig, WsCeilingConfig } from '../../functions/config/config-types.js';
import { estimateTargetCost, type TargetCost } from '../../functions/config/run-cost.js';
import { configForRegion, loadConfigFile } from '../../functions/config/target-config.js';
import { planSeconds } from '../../functions/config/worker-budget.js';
import { round } from '../../functions/engine/units.js';
import { redactUrl } from '../../functions/engine/redact.js';
import type { CliContext } from './cli-context.js';
import { parseRegion, type TextIo } from './deployed-common.js';
import { EXIT_CODES } from './exit-codes.js';
import { jsonOption, regionOption } from './shared-options.js';

/** Flags of `ws-ceiling config check`. */
export interface ConfigCheckFlags {
  /** Only the targets probed from this region, and their cost there. */
  region?: string;
  json?: boolean;
}

/** One target as `config check --json` shows it. */
interface TargetCheck {
  id: string;
  /** Credentials-free, query values redacted. */
  url: string;
  enabled: boolean;
  regions: string[];
  schedule: TargetConfig['schedule'];
  stages: number[];
  holdSeconds: number;
  connectRate: number;
  planSeconds: number;
  floor: number | null;
  cost: TargetCost;
}

/** Declares `ws-ceiling config` and its one subcommand, `check`, on `program`. */
export function registerConfig(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command('config')
    .description("Work with the deployed probe's config file.")
    .command('check')
    .description(
      'Validate a config file and show, per target, its regions, schedule, stages, worker Lambdas, timeout and ' +
        'Lambda cost.',
    )
    .argument('<file>', 'the JSON config file, e.g. config/example.config.json')
    .addOption(regionOption('only the targets probed from this AWS region, and their cost there'))
    .addOption(jsonOption('print the check as one JSON object'))
    .action((file: string, flags: ConfigCheckFlags) => setExitCode(configCheckCommand(file, flags, io)));
}

/** Validates the file and prints what it deploys; returns the exit code (bad input throws InvalidInputError). */
export function configCheckCommand(file: string, flags: ConfigCheckFlags, io: TextIo): number {
  const loaded = loadConfigFile(file);
  const region = flags.region === undefined ? undefined : parseRegion(flags.region);
  const config = region === undefined ? loaded : configForRegion(loaded, region);
  const targets = config.targets.map((target) => checkTarget(target, region));
  const usdPerMonth = targets.reduce((sum, target) => sum + target.cost.usdPerMonth, 0);
  if (flags.json) {
    const onCall = config.onCall.map(shownEndpoint);
    const report = {
      file,
      ...(region ? { region } : {}),
      allowedHosts: config.allowedHosts,
      onCall,
      targets,
      usdPerMonth,
    };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.stdout.write(`${describeCheck(file, config, targets, usdPerMonth, region)}\n`);
  }
  return EXIT_CODES.completed;
}

/** The figures of one target (in `region` only when given). */
function checkTarget(target: TargetConfig, region: string | undefined): TargetCheck {
  return {
    id: target.id,
    url: redactUrl(target.url),
    enabled: target.enabled,
    regions: target.regions,
    schedule: target.schedule,
    stages: target.plan.stages,
    holdSeconds: target.plan.holdSeconds,
    connectRate: target.plan.connectRate,
    planSeconds: planSeconds(target.plan),
    floor: target.floor ?? null,
    cost: estimateTargetCost(target, region === undefined ? target.regions.length : 1),
  };
}

/** The check as text: a header line, a block per target and the monthly total. */
function describeCheck(
  file: string,
  config: WsCeilingConfig,
  targets: TargetCheck[],
  usdPerMonth: number,
  region: string | undefined,
): string {
  const regions = [...new Set(config.targets.flatMap((target) => target.regions))].sort();
  const scope =
    region === undefined ? `in ${plural(regions.length, 'region')} (${regions.join(', ')})` : `probed from ${region}`;
  const lines = [
    `${file} is valid: ${plural(targets.length, 'target')} ${scope}, ` +
      `${plural(config.allowedHosts.length, 'allowed host')}, ${plural(config.onCall.length, 'on-call endpoint')}.`,
  ];
  for (const target of targets) lines.push('', ...describeTarget(target, region));
  lines.push(
    '',
    `Scheduled runs cost at most ${usd(usdPerMonth)} a month in Lambda${region ? ` in ${region}` : ''}. ` +
      'Upper bounds at US East arm64 prices, every Lambda billed to its timeout; Step Functions, DynamoDB, S3 ' +
      'and CloudWatch not included.',
  );
  return lines.join('\n');
}

/** One target's block. */
function describeTarget(target: TargetCheck, region: string | undefined): string[] {
  const { cost, schedule } = target;
  const runs = target.enabled
    ? `about ${round(cost.runsPerMonth, 1)} runs a month${region ? '' : ' per region'}; probe-missing alarm ` +
      `after ${schedule.expectedEveryHours} h without a run`
    : 'disabled: runs only on ws-ceiling invoke';
  const monthly = target.enabled
    ? `${usd(cost.usdPerMonth)} a month${cost.regions > 1 ? ` (${cost.regions} regions)` : ''}`
    : 'nothing a month';
  return [
    `${target.id}  ${target.url}${target.enabled ? '' : '  (disabled)'}`,
    `  regions      ${target.regions.join(', ')}`,
    `  schedule     ${schedule.cron} (${schedule.timeZone}), ${runs}`,
    `  stages       ${target.stages.join(' → ')}, each held ${target.holdSeconds} s at ${target.connectRate} new ` +
      'connections/s' +
      (target.floor === null ? '' : `; floor ${target.floor}`),
    `  workers      ${cost.shards} × ${cost.workerMemoryMb} MB, timeout ${cost.workerTimeoutSeconds} s ` +
      `(plan ${Math.ceil(target.planSeconds)} s)`,
    `  Lambda cost  at most ${usd(cost.usdPerRun)} a run, ${monthly}`,
  ];
}

/** An on-call endpoint as shown: an https endpoint by its host only, since its path or query often holds a key. */
function shownEndpoint(endpoint: OnCallEndpoint): { kind: string; address?: string; host?: string } {
  return endpoint.kind === 'email' ? endpoint : { kind: endpoint.kind, host: new URL(endpoint.url).host };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Dollars with four decimals under $1 (a run), two above. */
function usd(value: number): string {
  return `$${value.toFixed(value < 1 ? 4 : 2)}`;
}
