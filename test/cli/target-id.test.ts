import { describe, expect, it } from 'vitest';
import { targetIdFromUrl } from '../../bin/cli/target-id.js';

const idOf = (url: string): string => targetIdFromUrl(new URL(url));

describe('targetIdFromUrl', () => {
  it('keeps the readable id of a URL it loses nothing of, so stored history keeps its baseline', () => {
    expect(idOf('wss://chat.example.com/socket')).toBe('chat.example.com-socket');
    expect(idOf('wss://chat.example.com/a/b')).toBe('chat.example.com-a-b');
    expect(idOf('wss://my-host.example.com/socket')).toBe('my-host.example.com-socket');
    expect(idOf('wss://chat.example.com:8443/v2/live_feed')).toBe('chat.example.com-8443-v2-live_feed');
    expect(idOf('ws://127.0.0.1:8080/')).toBe('127.0.0.1-8080');
    expect(idOf('wss://x/')).toBe('x');
  });

  it('adds a short hash of the endpoint when the readable id loses information', () => {
    expect(idOf('wss://chat.example.com/a-b')).toBe('chat.example.com-a-b-f59337d7');
    expect(idOf('wss://x.example/a/')).toBe('x.example-a-0f90ee9b');
    expect(idOf('wss://x/8080')).toBe('x-8080-7b0c1b94');
    expect(idOf('ws://x/')).toBe('x-359bcb12');
    expect(idOf('wss://x/s?room=1')).toBe('x-s-1b782cc9');
    expect(idOf(`wss://${'a'.repeat(70)}.com/x`)).toBe(`${'a'.repeat(55)}-0c34771e`);
    for (const url of ['wss://[::1]:9000/ws', 'ws://localhost:8080/socket.io/?EIO=4&transport=websocket']) {
      expect(idOf(url)).toMatch(/^[A-Za-z0-9._-]{1,55}-[0-9a-f]{8}$/);
    }
  });

  it.each([
    ['wss://chat.example.com/a/b', 'wss://chat.example.com/a-b'],
    ['wss://x.example/a', 'wss://x.example/a/'],
    ['wss://x.example/a/b', 'wss://x.example/a//b'],
    ['ws://x:8080/', 'wss://x/8080'],
    ['ws://x/', 'wss://x/'],
    ['wss://x/s', 'wss://x/s?room=1'],
    ['wss://x/s?room=1', 'wss://x/s?room=1&seat=2'],
    ['wss://api-v1/', 'wss://api/v1'],
    ['wss://chat-eu.example.com/socket', 'wss://chat/eu.example.com/socket'],
    ['wss://x/a/deadbeef', 'wss://x/a/'],
    [`wss://x/${'a'.repeat(70)}`, `wss://x/${'a'.repeat(70)}b`],
  ])('never gives %s and %s the same id', (first, second) => {
    expect(idOf(first)).not.toBe(idOf(second));
  });

  it('names one endpoint whatever the query values, their order, the credentials or a default port spelled out', () => {
    expect(idOf('wss://x/s?token=a&room=1')).toBe(idOf('wss://x/s?room=2&token=b'));
    expect(idOf('wss://user:pw@x/s')).toBe(idOf('wss://x/s'));
    expect(idOf('wss://x:443/s')).toBe(idOf('wss://x/s'));
  });
});
