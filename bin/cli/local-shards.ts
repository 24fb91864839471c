/**
 * Runs every shard of a plan in this process, the local stand-in for the
 * deployed workers: the ramp of `run` and `diagnose` and the experiments of
 * `diagnose` all go through it, under one resource watch, with the run's
 * connections (templates, URL provider, signer, source addresses).
 */
import type { RunConnections } from '../../functions/connection/run-connections.js';
import { runShard, shardInputOf } from '../../functions/connection/shard-runner.js';
import { underResourceWatch } from '../../functions/connection/resource-watch.js';
import type { PlanRequest } from '../../functions/diagnose/experiment-probe.js';
import type { RunningHostCheck } from '../../functions/engine/self-check.js';
import type { ShardResult } from '../../functions/engine/types.js';

/**
 * Runs every shard of `plan` in this process, under one resource watch when
 * `host` is given (a shortfall stops the run as probe-limited), each
 * connection made by `connections` when given; the experiments of `diagnose`
 * use it too.
 */
export async function runPlanShards(
  request: PlanRequest,
  host?: RunningHostCheck,
  connections?: RunConnections,
): Promise<ShardResult[]> {
  const { settings, plan, control } = request;
  const setup =
    connections?.setupTimeoutSeconds !== undefined ? { setupTimeoutSeconds: connections.setupTimeoutSeconds } : {};
  return underResourceWatch(host, control, async (watch) => {
    const results = await Promise.all(
      plan.shards.map((shard) =>
        runShard(
          {
            ...shardInputOf({ ...settings, ...request.connectionOf?.(shard.index) }, plan.stages, shard),
            ...(connections
              ? { recipe: connections.recipeFor(plan.shards.length, request.connectionOf?.(shard.index)), ...setup }
              : {}),
            heartbeat: request.heartbeatOf?.(shard.index) ?? settings.heartbeat,
            ...(request.nextStage ? { nextStage: request.nextStage } : {}),
          },
          { control, ...(request.onEvent ? { onEvent: request.onEvent } : {}), ...(watch ? { watch } : {}) },
        ),
      ),
    );
    return results.map((result) => ({ ...result, sharesProcess: true }));
  });
}
