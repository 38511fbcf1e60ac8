import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../core/ipc/dispatch';
import { calls } from './contract';
import { LogsOpenRequest, ServiceActionRequest } from './logs';

const base = { profileId: 'home', streamId: 'view-0001', service: 'nextcloud' };
const refusal = (input: unknown, schema: { safeParse: (v: unknown) => { success: boolean; error?: unknown } } = LogsOpenRequest): string => {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`accepted ${JSON.stringify(input)}`);
  return describeIssues(r.error as never).userMessage;
};

describe('the Logs page’s fields refuse hostile input and name the field', () => {
  it('takes a plain request with defaults', () => {
    expect(LogsOpenRequest.parse(base)).toEqual({ ...base, follow: true, search: '', tail: 500 });
    expect(calls['logs:open'].input).toBe(LogsOpenRequest);
  });

  it.each([
    "nextcloud'; docker rm -f $(docker ps -q)",
    '$(id)',
    '`id`',
    'next\ncloud',
    '--volumes',
    '-f',
    '../etc/passwd',
    'Nextcloud',
    'nextcloud ',
    'ñextcloud',
    'x'.repeat(64),
    '',
  ])('refuses the service name %j', (service) => {
    expect(refusal({ ...base, service })).toMatch(/^Service: /);
  });

  it('refuses any service name that is not a plain Compose name, whatever it holds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (service) => {
        const ok = LogsOpenRequest.safeParse({ ...base, service }).success;
        expect(ok).toBe(/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(service));
      }),
    );
  });

  it.each([
    ['since', '$(date)', /^From: /],
    ['since', 'yesterday', /^From: /],
    ['since', '15d', /^From: /],
    ['since', '2026-12-05 01:00', /^From: /],
    ['since', '2026-13-45T99:00:00Z', /^From: /],
    ['since', `15m\n--follow`, /^From: /],
    ['until', '-1h', /^To: /],
    ['until', '0m', /^To: /],
  ])('refuses %s = %j', (field, value, message) => {
    expect(refusal({ ...base, follow: false, [field]: value })).toMatch(message);
  });

  it('takes ISO times with their zone and times ago', () => {
    for (const since of ['2026-12-05T01:30:00Z', '2026-12-05T01:30:00.123456789+01:00', '2026-12-05T01:30Z', '90s', '15m', '24h']) {
      expect(LogsOpenRequest.safeParse({ ...base, since }).success).toBe(true);
    }
  });

  it('refuses a To with Follow on, and a To before From', () => {
    expect(refusal({ ...base, follow: true, until: '5m' })).toMatch(/^To: turn Follow off/);
    expect(refusal({ ...base, follow: false, since: '2026-12-05T02:00:00Z', until: '2026-12-05T01:00:00Z' })).toMatch(/^To: choose a time after From/);
    expect(refusal({ ...base, follow: false, since: '5m', until: '1h' })).toMatch(/^To: choose a time after From/);
  });

  it('refuses a search with line breaks or control characters, or too long; takes quotes, $() and unicode as text', () => {
    expect(refusal({ ...base, search: 'a\nb' })).toMatch(/^Search: /);
    expect(refusal({ ...base, search: 'a\u0000b' })).toMatch(/^Search: /);
    expect(refusal({ ...base, search: 'x'.repeat(201) })).toMatch(/^Search: at most 200/);
    expect(LogsOpenRequest.parse({ ...base, search: `'"; $(reboot) \`id\` Ünïcødé ✓\ttab` }).search).toContain('$(reboot)');
  });

  it('refuses a line count out of range, and a stream id the page did not make', () => {
    expect(refusal({ ...base, tail: 0 })).toMatch(/^Lines: /);
    expect(refusal({ ...base, tail: 5001 })).toMatch(/^Lines: /);
    expect(refusal({ ...base, tail: 1.5 })).toMatch(/^Lines: /);
    expect(refusal({ ...base, streamId: '../x' })).toMatch(/^Stream id: /);
  });

  it('runs no service action the admin did not confirm, and only restart, stop or start', () => {
    const action = { profileId: 'home', service: 'jellyfin', action: 'restart', confirmed: true };
    expect(ServiceActionRequest.safeParse(action).success).toBe(true);
    expect(refusal({ ...action, confirmed: false }, ServiceActionRequest)).toMatch(/^Confirm: /);
    expect(refusal({ ...action, confirmed: undefined }, ServiceActionRequest)).toMatch(/^Confirm: /);
    expect(refusal({ ...action, action: 'rm' }, ServiceActionRequest)).toMatch(/^Action: /);
    expect(refusal({ ...action, service: 'jellyfin; reboot' }, ServiceActionRequest)).toMatch(/^Service: /);
  });
});
