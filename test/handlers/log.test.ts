import { describe, expect, it } from 'vitest';
import { createLogger } from '../../functions/handlers/log.js';

/** A logger writing into an array, and the entries parsed. */
function capture(fields: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const logger = createLogger(fields, (line) => lines.push(line));
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON line per entry with level, message, time and the fields', () => {
    const { logger, lines, entries } = capture({ runId: 'run-1', targetId: 'chat' });
    logger.info('plan ready', { shards: 3 });
    logger.error('worker failed');
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
    const [first, second] = entries();
    expect(first).toMatchObject({ level: 'info', message: 'plan ready', runId: 'run-1', targetId: 'chat', shards: 3 });
    expect(Date.parse(String(first?.time))).not.toBeNaN();
    expect(second).toMatchObject({ level: 'error', message: 'worker failed', runId: 'run-1' });
  });

  it('adds fields to every entry of a derived logger, later fields winning', () => {
    const { logger, entries } = capture({ runId: 'run-1', shard: 0 });
    logger.with({ shard: 2, trigger: 'schedule' }).warn('stop requested');
    expect(entries()[0]).toMatchObject({ runId: 'run-1', shard: 2, trigger: 'schedule', level: 'warn' });
  });

  it('logs a headers object as its names only', () => {
    const { logger, lines, entries } = capture();
    logger.info('connecting', { headers: { Authorization: 'Bearer sekrit-1', 'X-Tenant': 'acme' } });
    expect(entries()[0]?.headers).toEqual(['Authorization', 'X-Tenant']);
    expect(lines.join()).not.toContain('sekrit');
  });

  it('redacts URL credentials and query values in fields, nested values, messages and errors', () => {
    const { logger, lines, entries } = capture({
      url: 'wss://user:sekrit-1@chat.example.com/socket?token=sekrit-2&room=blue',
    });
    const error = new Error('Unexpected server response to wss://chat.example.com/s?key=sekrit-3');
    logger.error('failed at https://chat.example.com/?sig=sekrit-4 once', {
      error,
      target: { url: 'ws://h/?t=sekrit-5' },
    });
    const [entry] = entries();
    expect(lines.join()).not.toContain('sekrit');
    expect(entry?.url).toBe('wss://chat.example.com/socket?token=redacted&room=redacted');
    expect(entry?.message).toBe('failed at https://chat.example.com/?sig=redacted once');
    expect(entry?.error).toMatchObject({
      name: 'Error',
      message: 'Unexpected server response to wss://chat.example.com/s?key=redacted',
    });
    expect(entry?.target).toEqual({ url: 'ws://h/?t=redacted' });
  });

  it("writes each entry at its own level with the logger's fields, as recordRun logs a metrics failure", () => {
    const { logger, entries } = capture({ runId: 'run-1' });
    logger.error('metrics not published; the run is stored', { error: 'Throttling' });
    logger.info('no level given');
    expect(entries()).toMatchObject([
      { level: 'error', message: 'metrics not published; the run is stored', error: 'Throttling', runId: 'run-1' },
      { level: 'info', message: 'no level given' },
    ]);
  });
});
