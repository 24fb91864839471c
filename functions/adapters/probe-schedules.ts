/**
 * The EventBridge Scheduler side of a deployed target: read the run input a
 * target's schedule sends (what `ws-ceiling invoke` starts a run with), and
 * pause or resume the schedule (`ws-ceiling pause|resume`). Schedules live
 * in the deployment's schedule group under its schedule name for the target
 * (functions/config/resource-names.ts).
 */
import {
  GetScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type GetScheduleOutput,
  type ScheduleState,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { resourceNames, type ResourceNames } from '../config/resource-names.js';

/** The parts of a target's schedule the CLI shows. */
export interface TargetSchedule {
  name: string;
  state: ScheduleState;
  expression: string;
  timeZone?: string;
  /** The fixed input the schedule starts the state machine with (a RunRequest as JSON). */
  input?: string;
}

/** How a {@link ProbeSchedules} reaches EventBridge Scheduler. */
export interface ProbeSchedulesOptions {
  client: SchedulerClient;
  /** The deployment's names (default: an unnamed deployment's). */
  names?: ResourceNames;
}

/** EventBridge Scheduler calls on the schedules of ws-ceiling targets. */
export class ProbeSchedules {
  readonly #client: SchedulerClient;
  readonly #names: ResourceNames;

  constructor(options: ProbeSchedulesOptions) {
    this.#client = options.client;
    this.#names = options.names ?? resourceNames();
  }

  /** The schedule of `targetId`, or undefined when it does not exist. */
  async read(targetId: string): Promise<TargetSchedule | undefined> {
    const schedule = await this.#get(targetId);
    return schedule && describe(schedule);
  }

  /**
   * Sets the schedule of `targetId` to `state` with UpdateSchedule, keeping
   * every other field as it is (UpdateSchedule replaces the whole schedule).
   * Returns the schedule as it was, or undefined when it does not exist; a
   * schedule already in `state` is left alone.
   */
  async setState(targetId: string, state: ScheduleState): Promise<TargetSchedule | undefined> {
    const schedule = await this.#get(targetId);
    if (!schedule) return undefined;
    if (schedule.State !== state) {
      await this.#client.send(
        new UpdateScheduleCommand({
          Name: schedule.Name,
          GroupName: schedule.GroupName,
          ScheduleExpression: schedule.ScheduleExpression,
          ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
          StartDate: schedule.StartDate,
          EndDate: schedule.EndDate,
          Description: schedule.Description,
          KmsKeyArn: schedule.KmsKeyArn,
          Target: schedule.Target,
          FlexibleTimeWindow: schedule.FlexibleTimeWindow,
          ActionAfterCompletion: schedule.ActionAfterCompletion,
          State: state,
        }),
      );
    }
    return describe(schedule);
  }

  /** GetSchedule, with a missing schedule as undefined. */
  async #get(targetId: string): Promise<GetScheduleOutput | undefined> {
    try {
      return await this.#client.send(
        new GetScheduleCommand({ Name: this.#names.schedule(targetId), GroupName: this.#names.scheduleGroup }),
      );
    } catch (error) {
      if (
        error instanceof ResourceNotFoundException ||
        (error instanceof Error && error.name === 'ResourceNotFoundException')
      )
        return undefined;
      throw error;
    }
  }
}

/** The shown parts of a GetSchedule answer. */
function describe(schedule: GetScheduleOutput): TargetSchedule {
  return {
    name: schedule.Name ?? '',
    state: schedule.State ?? 'ENABLED',
    expression: schedule.ScheduleExpression ?? '',
    ...(schedule.ScheduleExpressionTimezone !== undefined ? { timeZone: schedule.ScheduleExpressionTimezone } : {}),
    ...(schedule.Target?.Input !== undefined ? { input: schedule.Target.Input } : {}),
  };
}
