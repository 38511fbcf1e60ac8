import { describe, expect, it } from 'vitest';
import type { Confirmation } from '../../contract/cloudflare';
import { appConfirmKey, dnsConfirmKey } from './publish-plan';
import { TakeOvers } from './take-over';

const dnsQuestion = (id: string, content: string): Confirmation => {
  const records = [{ id, type: 'A', name: 'media.example.com', content, proxied: false, ttl: 300, comment: null }];
  return { key: dnsConfirmKey('media.example.com', records), kind: 'dns-record', hostname: 'media.example.com', existing: `A media.example.com → ${content}`, action: 'Replace it.' };
};

describe('taking over a record made outside the app', () => {
  it('asks, and the step waits, until the admin said yes to exactly that record', () => {
    const q = dnsQuestion('r1', '198.51.100.7');
    const first = new TakeOvers(new Set());
    expect(first.ask(q, 'waiting for your yes')).toEqual({ status: 'needs-confirmation', detail: 'waiting for your yes' });
    expect(first.asked).toEqual([q]);

    const yes = new TakeOvers(new Set([q.key]));
    expect(yes.ask(q, 'waiting for your yes')).toBeNull();
    expect(yes.asked).toEqual([]);
  });

  it('asks again when another record stands there since the yes, and keeps the questions of one run in order', () => {
    const before = dnsQuestion('r1', '198.51.100.7');
    const changed = dnsQuestion('r2', '203.0.113.9');
    const app: Confirmation = { key: appConfirmKey('media.example.com', 'app-1'), kind: 'access-app', hostname: 'media.example.com', existing: 'Access application "Media"', action: 'Rename it.' };
    const run = new TakeOvers(new Set([before.key]));
    expect(run.ask(app, 'app waits')?.status).toBe('needs-confirmation');
    expect(run.ask(changed, 'dns waits')?.status).toBe('needs-confirmation');
    expect(run.asked.map((c) => c.kind)).toEqual(['access-app', 'dns-record']);
  });
});
