/**
 * The queueing-gateway reading of refusals: upgrades that connect over TCP
 * but never get an HTTP answer, once N connections are open, mean a gateway
 * whose accept queue is full at N. Such a gateway may still pass the
 * abandoned handshakes to its backend later, after the client gave up, so
 * the finding carries that warning.
 */
import type { ConnectionRecord } from '../engine/types.js';
import type { ExperimentName, Finding, FindingEvidence } from './findings.js';
import { makeFinding } from './report.js';

/** True when a record connected over TCP and then waited in vain for the HTTP answer to its upgrade. */
export function isUnanswered(record: ConnectionRecord): boolean {
  return record.outcome === 'handshake-timeout' && record.tcpConnectedAt !== undefined;
}

/** What an accept-queue finding says: the count, the rates at which it held, and the handshake timeout waited. */
export interface AcceptQueueInput {
  count: number;
  rates: number[];
  handshakeTimeoutSeconds: number;
  evidence: FindingEvidence;
  probeSeconds: number;
  /** The experiment that found it: the queueing-gateway reading of rate-or-count, unless given. */
  experiment?: ExperimentName;
}

/** The finding of a full accept queue at `count`, with the warning about abandoned handshakes. */
export function acceptQueueFinding(input: AcceptQueueInput): Finding {
  return makeFinding({
    kind: 'accept-queue',
    values: { count: input.count, rates: input.rates, handshakeTimeoutSeconds: input.handshakeTimeoutSeconds },
    experiment: input.experiment ?? 'queueing-gateway',
    evidence: {
      ...input.evidence,
      note:
        'The gateway kept the unanswered upgrades in its queue; it may hand them to the backend after the ' +
        'probe gave up on them.',
    },
    probeSeconds: input.probeSeconds,
  });
}
