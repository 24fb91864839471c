/**
 * `ws-ceiling config check <file> [--region R] [--json]`: validates a config
 * file with the same schema (and so the same limits) as the CDK app and the
 * plan step, and shows what it would deploy per target: regions and when
 * each starts, schedule, stages, worker Lambdas and their timeout, and an
 * upper bound of the Lambda cost per run and per month. A bad file exits 2
 * with the path of the bad field. With `--region`, it also reads the
 * account's Lambda concurrency there (GetAccountSettings, bounded in time)
 * and refuses workers that would not fit; without credentials it says it
 * could not check.
 */
import type { Command } from 'commander';
import { readAccountConcurrency, type ConcurrencyReading } from '../../functions/adapters/lambda-account.js';
import type { OnCallEndpoint, TargetConfig, WsCeilingConfig } from '../../functions/config/config-types.js';
import { parseCron } from '../../functions/config/cron-schedule.js';
import { concurrencyProblems } from '../../functions/config/lambda-concurrency.js';
import { regionStarts, worstCaseRunSeconds, type RegionStart } from '../../functions/config/region-starts.js';
import { resourceNames } from '../../functions/config/resource-names.js';
import { estimateTargetCost, type TargetCost } from '../../functions/config/run-cost.js';
import { configForRegion, loadConfigFile } from '../../functions/config/target-config.js';
import { planSeconds } from '../../functions/config/worker-budget.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
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

/** What the check reads besides the file (tests pass a stand-in). */
export interface ConfigCheckDeps {
  /** The account's Lambda concurrency in a region. */
  readConcurrency: (region: string) => Promise<ConcurrencyReading>;
}

/** The real look-up of the account's concurrency. */
const DEFAULT_CONFIG_CHECK_DEPS: ConfigCheckDeps = { readConcurrency: (region) => readAccountConcurrency(region) };

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
  /** When each region's runs start after each cron time. */
  regionStarts: RegionStart[];
  /** The longest a run takes, minutes (the regions start at least this plus a margin apart). */
  worstCaseRunMinutes: number;
  reservedConcurrency: number | null;
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
    .action(async (file: string, flags: ConfigCheckFlags) => setExitCode(await configCheckCommand(file, flags, io)));
}

/**
 * Validates the file and prints what it deploys; returns the exit code (bad
 * input, or workers the account's concurrency cannot run, throws InvalidInputError).
 */
export async function configCheckCommand(
  file: string,
  flags: ConfigCheckFlags,
  io: TextIo,
  deps: ConfigCheckDeps = DEFAULT_CONFIG_CHECK_DEPS,
): Promise<number> {
  const loaded = loadConfigFile(file);
  const region = flags.region === undefined ? undefined : parseRegion(flags.region);
  const config = region === undefined ? loaded : configForRegion(loaded, region);
  const concurrency = region === undefined ? undefined : await checkConcurrency(loaded, config, region, deps, io);
  const targets = config.targets.map((target) => checkTarget(target, region));
  const usdPerMonth = targets.reduce((sum, target) => sum + target.cost.usdPerMonth, 0);
  if (flags.json) {
    const onCall = config.onCall.map(shownEndpoint);
    const report = {
      file,
      ...(config.name !== undefined ? { name: config.name, stackPrefix: resourceNames(config.name).prefix } : {}),
      ...(region ? { region, lambdaConcurrency: concurrency ?? null } : {}),
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

/**
 * Reads the account's Lambda concurrency in `region` and throws an
 * InvalidInputError naming the first target whose workers would not fit;
 * without figures (no credentials, no answer) it says so on stderr and
 * returns undefined.
 */
async function checkConcurrency(
  loaded: WsCeilingConfig,
  config: WsCeilingConfig,
  region: string,
  deps: ConfigCheckDeps,
  io: TextIo,
): Promise<{ limit: number; unreserved: number } | undefined> {
  const reading = await deps.readConcurrency(region);
  const workers = config.targets.reduce((total, target) => total + estimateTargetCost(target, 1).shards, 0);
  if (!reading.read) {
    io.stderr.write(
      `note: could not check the Lambda concurrency of ${region} (${reading.reason}); its targets start up to ` +
        `${workers} workers at once. Check again with AWS credentials for the account.\n`,
    );
    return undefined;
  }
  const [problem] = concurrencyProblems(config.targets, reading.concurrency, region);
  if (problem) {
    const index = loaded.targets.findIndex((target) => target.id === problem.targetId);
    throw new InvalidInputError(`targets[${index}].${problem.field}`, problem.message);
  }
  return reading.concurrency;
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
    regionStarts: regionStarts(target),
    worstCaseRunMinutes: Math.ceil(worstCaseRunSeconds(target.plan) / 60),
    reservedConcurrency: target.reservedConcurrency ?? null,
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
  if (config.name !== undefined) {
    const names = resourceNames(config.name);
    lines.push(
      `Deployment ${config.name}: stacks ${names.stack('<region>')}, runs table ${names.runsTable}, every name ` +
        `starting ${names.prefix}-.`,
    );
  }
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
    `  starts       ${describeStarts(target)}`,
    `  stages       ${target.stages.join(' → ')}, each held ${target.holdSeconds} s at ${target.connectRate} new ` +
      'connections/s' +
      (target.floor === null ? '' : `; floor ${target.floor}`),
    `  workers      ${cost.shards} × ${cost.workerMemoryMb} MB, timeout ${cost.workerTimeoutSeconds} s ` +
      `(plan ${Math.ceil(target.planSeconds)} s)` +
      (target.reservedConcurrency === null ? '' : `, ${target.reservedConcurrency} reserved concurrency`),
    `  Lambda cost  at most ${usd(cost.usdPerRun)} a run, ${monthly}`,
  ];
}

/**
 * When each region's runs start: local times for a cron that fires once a
 * day at one time (`eu-west-1 02:00, us-east-1 02:27`), else minutes after
 * each cron time; then how far apart, against a run at its worst.
 */
function describeStarts(target: TargetCheck): string {
  const parsed = parseCron(target.schedule.cron);
  const daily =
    !('problem' in parsed) && parsed.cron.hours.length === 1 && parsed.cron.minutes.length === 1
      ? (parsed.cron.hours[0] ?? 0) * 60 + (parsed.cron.minutes[0] ?? 0)
      : undefined;
  const starts = target.regionStarts.map(({ region, offsetMinutes }) => {
    if (daily === undefined) return `${region} +${offsetMinutes} min`;
    const minutes = daily + offsetMinutes;
    const clock = `${String(Math.floor(minutes / 60) % 24).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
    return `${region} ${clock}${minutes >= 1440 ? ' (next day)' : ''}`;
  });
  const runTakes = `a run takes up to ${target.worstCaseRunMinutes} min`;
  if (target.regionStarts.length < 2)
    return `${starts.join('')}${daily === undefined ? ' after each cron time' : ''}; ${runTakes}`;
  const gaps = target.regionStarts.map((start) => start.offsetMinutes).sort((a, b) => a - b);
  const closest = Math.min(...gaps.slice(1).map((offset, index) => offset - (gaps[index] ?? 0)));
  return (
    `${starts.join(', ')}${daily === undefined ? ' after each cron time' : ` (${target.schedule.timeZone})`}: ` +
    `${closest} min apart at least, and ${runTakes}`
  );
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
