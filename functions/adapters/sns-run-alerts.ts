/**
 * Run messages on SNS: the record step publishes each message to the
 * region's on-call topic once, with one body per kind of subscriber
 * (`MessageStructure: json`): plain text with a subject for e-mail (and any
 * other protocol), and AWS Chatbot's custom notification JSON for https
 * subscriptions (Chatbot subscribes to a topic over https). The client is
 * passed in.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { RunAlert, RunAlerts } from '../steps/run-alert.js';

/** How an {@link SnsRunAlerts} reaches its topic. */
export interface SnsRunAlertsOptions {
  client: SNSClient;
  topicArn: string;
}

/** The per-protocol bodies of one message, as SNS takes them with `MessageStructure: json`. */
export function snsMessageOf(alert: RunAlert): string {
  return JSON.stringify({ default: alert.text, email: alert.text, https: JSON.stringify(alert.chat) });
}

/** {@link RunAlerts} on one SNS topic. */
export class SnsRunAlerts implements RunAlerts {
  readonly #client: SNSClient;
  readonly #topicArn: string;

  constructor(options: SnsRunAlertsOptions) {
    this.#client = options.client;
    this.#topicArn = options.topicArn;
  }

  /** Publishes the message to the topic. */
  async publish(alert: RunAlert): Promise<void> {
    await this.#client.send(
      new PublishCommand({
        TopicArn: this.#topicArn,
        Subject: alert.subject,
        MessageStructure: 'json',
        Message: snsMessageOf(alert),
      }),
    );
  }
}
