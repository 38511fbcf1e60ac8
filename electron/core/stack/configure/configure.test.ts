import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StackSettings, hwAccelKinds, secretMask, type HwAccel } from '../../../contract/stack';
import { MemorySecretStore } from '../../secrets/keychain';
import { Secret } from '../../secrets/secret';
import { shellQuote } from '../../ssh/argv';
import type { ExecResult } from '../../ssh/runner';
import { StackSecrets } from '../secrets';
import { appsBlueprint } from '../modules/authentik';
import { M2_BLUEPRINT_NAME, applicationSlugs, blueprintState } from './authentik';
import { configureFailed, containerNetworksArgv, dockerArgv, findContainerArgv, maskSecrets, parseContainerAddresses, type ConfigureTarget } from './common';
import { configureStack, configuredServices } from './configure-stack';
import { appKeys, decodingCodecs, hwAccelType, mediaBrowserAuth, plannedEncoding } from './jellyfin';
import { missingTrustedDomains, occ, occArgv, parseTrustedDomains } from './nextcloud';

/** Jellyfin 10.11's defaults, as GET /System/Configuration/encoding returns them (the fields that matter here). */
const defaults: Record<string, unknown> = {
  HardwareAccelerationType: 'none',
  VaapiDevice: '/dev/dri/renderD128',
  QsvDevice: '',
  EnableHardwareEncoding: true,
  HardwareDecodingCodecs: ['h264', 'vc1'],
  EnableTonemapping: false,
  H264Crf: 23,
};

describe('docker argv', () => {
  it('finds a service’s container by the Compose project and service labels only', () => {
    expect(findContainerArgv('m2', 'jellyfin')).toEqual(['docker', 'ps', '--filter', 'label=com.docker.compose.project=m2', '--filter', 'label=com.docker.compose.service=jellyfin', '--format', '{{.ID}}']);
    expect(containerNetworksArgv('abc123abc123')).toEqual(['docker', 'inspect', '--format', '{{json .NetworkSettings.Networks}}', '--', 'abc123abc123']);
  });

  it('runs docker through sudo -n for a user outside the docker group', () => {
    expect(dockerArgv({ dockerAccess: 'sudo' }, ['docker', 'ps'])).toEqual(['sudo', '-n', '--', 'docker', 'ps']);
    expect(dockerArgv({ dockerAccess: 'group' }, ['docker', 'ps'])).toEqual(['docker', 'ps']);
  });

  it('reads container addresses from docker inspect, skipping networks without one', () => {
    const out = '{"m2_edge":{"IPAddress":"172.30.0.5","Gateway":"172.30.0.1"},"m2_internal":{"IPAddress":"172.31.0.3"},"none":{"IPAddress":""}}\n';
    expect(parseContainerAddresses(out)).toEqual(['172.30.0.5', '172.31.0.3']);
    expect(parseContainerAddresses('null')).toEqual([]);
    expect(parseContainerAddresses('not json')).toEqual([]);
  });
});

describe('masking', () => {
  it('replaces every known secret value, longest first, and leaves short or absent ones alone', () => {
    const a = new Secret('abcdef-token');
    const b = new Secret('abcdef');
    expect(maskSecrets('x abcdef-token y abcdef z ab', [b, a, new Secret('ab'), undefined])).toBe(`x ${secretMask} y ${secretMask} z ab`);
  });

  it('never lets a secret through an error message or hint, whatever surrounds it', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{4,40}$/), fc.string(), fc.string(), (value, before, after) => {
        const err = configureFailed('jellyfin', `${before}${value}${after}${value}`, `hint ${value}.`, [new Secret(value)]);
        expect(err.code).toBe('stack.configure-failed');
        expect(err.userMessage.startsWith('Jellyfin: ')).toBe(true);
        expect(err.userMessage).not.toContain(value);
        expect(err.hint).toBe(`hint ${secretMask}.`);
      }),
    );
  });
});

describe('Jellyfin', () => {
  it('maps each module setting to Jellyfin’s HardwareAccelerationType', () => {
    expect(hwAccelType).toEqual({ nvidia: 'nvenc', 'intel-qsv': 'qsv', vaapi: 'vaapi', 'amd-vaapi': 'vaapi', none: 'none' });
  });

  it('plans VA-API with the render node, hardware encoding and the vendor’s decoders, keeping every other field', () => {
    const { next, changed } = plannedEncoding(defaults, { hwAccel: 'amd-vaapi', renderDevice: '/dev/dri/renderD129' });
    expect(next).toEqual({ ...defaults, HardwareAccelerationType: 'vaapi', VaapiDevice: '/dev/dri/renderD129', HardwareDecodingCodecs: ['h264', 'hevc', 'mpeg2video', 'vc1'] });
    expect(changed.sort()).toEqual(['HardwareAccelerationType', 'HardwareDecodingCodecs', 'VaapiDevice']);
  });

  it('plans QSV with both the VA-API and the QSV device set to the render node', () => {
    const { next } = plannedEncoding(defaults, { hwAccel: 'intel-qsv', renderDevice: '/dev/dri/renderD128' });
    expect(next).toMatchObject({ HardwareAccelerationType: 'qsv', VaapiDevice: '/dev/dri/renderD128', QsvDevice: '/dev/dri/renderD128', EnableHardwareEncoding: true });
  });

  it('plans NVENC without touching the VA-API device', () => {
    const { next } = plannedEncoding({ ...defaults, VaapiDevice: '/dev/dri/renderD130' }, { hwAccel: 'nvidia', renderDevice: '/dev/dri/renderD128' });
    expect(next).toMatchObject({ HardwareAccelerationType: 'nvenc', VaapiDevice: '/dev/dri/renderD130', HardwareDecodingCodecs: decodingCodecs.nvidia });
  });

  it('for none sets only the type, leaving the admin’s other choices', () => {
    const current = { ...defaults, HardwareAccelerationType: 'nvenc', HardwareDecodingCodecs: ['h264'] };
    expect(plannedEncoding(current, { hwAccel: 'none', renderDevice: '/dev/dri/renderD128' })).toEqual({ next: { ...current, HardwareAccelerationType: 'none' }, changed: ['HardwareAccelerationType'] });
  });

  it('keeps decoders an admin widened while the type stays, but fills an empty list (hardware encode with software decode)', () => {
    const widened = { ...defaults, HardwareAccelerationType: 'vaapi', HardwareDecodingCodecs: ['h264', 'hevc', 'av1'] };
    expect(plannedEncoding(widened, { hwAccel: 'vaapi', renderDevice: '/dev/dri/renderD128' }).changed).toEqual([]);
    const empty = { ...widened, HardwareDecodingCodecs: [] };
    expect(plannedEncoding(empty, { hwAccel: 'vaapi', renderDevice: '/dev/dri/renderD128' }).changed).toEqual(['HardwareDecodingCodecs']);
  });

  it('plans nothing the second time: applying a plan leaves nothing to change, for every setting and any starting point', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...hwAccelKinds),
        fc.constantFrom(...hwAccelKinds),
        fc.constantFrom('/dev/dri/renderD128', '/dev/dri/renderD129'),
        (before: HwAccel, after: HwAccel, dev) => {
          const start = plannedEncoding(defaults, { hwAccel: before, renderDevice: '/dev/dri/renderD128' }).next;
          const once = plannedEncoding(start, { hwAccel: after, renderDevice: dev });
          expect(plannedEncoding(once.next, { hwAccel: after, renderDevice: dev }).changed).toEqual([]);
        },
      ),
    );
  });

  it('reads the type case-insensitively, as Jellyfin accepts it', () => {
    expect(plannedEncoding({ ...defaults, HardwareAccelerationType: 'VAAPI', HardwareDecodingCodecs: ['h264'] }, { hwAccel: 'vaapi', renderDevice: '/dev/dri/renderD128' }).changed).toEqual([]);
  });

  it('builds the MediaBrowser header with URL-encoded values, and the token only when given', () => {
    expect(mediaBrowserAuth({ deviceId: 'm2-companion-m2', version: '0.1.0' })).toBe('MediaBrowser Client="M2%20Companion", Device="M2%20Companion", DeviceId="m2-companion-m2", Version="0.1.0"');
    expect(mediaBrowserAuth({ deviceId: 'd', version: '1' }, new Secret('abc'))).toMatch(/, Token="abc"$/);
  });

  it('picks the app’s active keys from GET /Auth/Keys, newest first', () => {
    const body = {
      Items: [
        { Id: 1, AccessToken: 'old', AppName: 'M2 Companion', DateCreated: '2026-01-01T00:00:00Z', IsActive: true },
        { Id: 2, AccessToken: 'other', AppName: 'Infuse', DateCreated: '2026-03-01T00:00:00Z' },
        { Id: 3, AccessToken: 'new', AppName: 'M2 Companion', DateCreated: '2026-02-01T00:00:00Z' },
        { Id: 4, AccessToken: 'revoked', AppName: 'M2 Companion', DateCreated: '2026-04-01T00:00:00Z', IsActive: false },
      ],
      TotalRecordCount: 4,
    };
    expect(appKeys(body).map((k) => k.AccessToken)).toEqual(['new', 'old']);
    expect(appKeys({})).toEqual([]);
  });
});

describe('Nextcloud', () => {
  it('runs occ as www-data in the container, non-interactively, one argument per element', () => {
    expect(occArgv('abc123abc123', occ.setTrustedDomain(2, 'cloud.example.com'))).toEqual([
      'docker',
      'exec',
      '--user',
      'www-data',
      'abc123abc123',
      'php',
      'occ',
      '--no-interaction',
      'config:system:set',
      'trusted_domains',
      '2',
      '--value=cloud.example.com',
    ]);
  });

  it('refuses anything but a host name or an IPv4 address (the fallback’s tunnel address) as a trusted domain', () => {
    for (const bad of ['cloud.example.com; id', '$(id)', 'a b', '', '-x', '10.13.13.1; id', '10.13.13.1:8080', '::1', '10.13.13.256']) expect(() => occ.setTrustedDomain(0, bad)).toThrow(TypeError);
    expect(occ.setTrustedDomain(3, '10.13.13.1')).toEqual(['config:system:set', 'trusted_domains', '3', '--value=10.13.13.1']);
  });

  it('quotes nothing it does not need to: a valid host name stays one plain word on the command line', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.domain(), (host) => {
        const h = host.toLowerCase();
        fc.pre(!/^\d+$/.test(h.split('.').pop() ?? ''));
        const arg = occ.setTrustedDomain(1, h)[3] ?? '';
        expect(shellQuote(arg)).toBe(arg);
      }),
    );
  });

  it('reads trusted_domains as a list or, after a deletion left gaps, as an object', () => {
    expect([...parseTrustedDomains('["localhost","nextcloud.lan"]\n')]).toEqual([
      [0, 'localhost'],
      [1, 'nextcloud.lan'],
    ]);
    expect([...parseTrustedDomains('{"0":"localhost","3":"cloud.example.com"}')]).toEqual([
      [0, 'localhost'],
      [3, 'cloud.example.com'],
    ]);
    expect(parseTrustedDomains('').size).toBe(0);
  });

  it('adds only missing hosts (case-insensitively, once each), after the highest index in use', () => {
    const current = new Map([
      [0, 'localhost'],
      [3, 'Cloud.Example.com'],
    ]);
    expect(missingTrustedDomains(current, ['cloud.example.com', 'files.example.com', 'FILES.example.com'])).toEqual([{ index: 4, host: 'files.example.com' }]);
    expect(missingTrustedDomains(new Map(), ['a.example.com'])).toEqual([{ index: 0, host: 'a.example.com' }]);
    expect(missingTrustedDomains(current, ['cloud.example.com'])).toEqual([]);
  });
});

describe('Authentik', () => {
  const page = (results: unknown[]): unknown => ({ pagination: { count: results.length }, results });

  it('reads the named blueprint instance’s state', () => {
    expect(blueprintState(page([]), 'm2-apps')).toEqual({ kind: 'missing' });
    expect(blueprintState(page([{ name: 'other', status: 'successful' }]), 'm2-apps')).toEqual({ kind: 'missing' });
    expect(blueprintState(page([{ name: 'm2-apps', status: 'successful', last_applied: '2026-05-01T00:00:00Z' }]), 'm2-apps')).toEqual({ kind: 'successful', lastApplied: '2026-05-01T00:00:00Z' });
    expect(blueprintState(page([{ name: 'm2-apps', status: 'error' }]), 'm2-apps')).toEqual({ kind: 'error', status: 'error' });
    expect(blueprintState(page([{ name: 'm2-apps', status: 'unknown' }]), 'm2-apps')).toEqual({ kind: 'pending', status: 'unknown' });
    expect(blueprintState('garbage', 'm2-apps')).toEqual({ kind: 'missing' });
  });

  it('waits for the blueprint the authentik module renders, under the name its metadata gives', () => {
    const content = appsBlueprint(StackSettings.parse({}))?.content ?? '';
    expect(content).toMatch(new RegExp(`^metadata:\\n  name: ${M2_BLUEPRINT_NAME}$`, 'm'));
    expect(content).toContain('identifiers: { slug: nextcloud }');
  });

  it('lists application slugs', () => {
    expect(applicationSlugs(page([{ slug: 'nextcloud' }, { slug: 'jellyfin' }, { name: 'no slug' }]))).toEqual(['nextcloud', 'jellyfin']);
  });
});

describe('configureStack', () => {
  it('configures the enabled services in a fixed order', () => {
    expect(configuredServices(StackSettings.parse({}))).toEqual(['jellyfin', 'nextcloud', 'authentik']);
    expect(configuredServices(StackSettings.parse({ modules: { nextcloud: { enabled: false }, authentik: { enabled: false } } }))).toEqual(['jellyfin']);
  });

  it('tries every service when one fails, and names each failed one in a single stack.configure-failed', async () => {
    const ran: string[][] = [];
    const target: ConfigureTarget = {
      project: 'm2',
      dockerAccess: 'group',
      conn: {
        exec: (argv): Promise<ExecResult> => {
          ran.push([...argv]);
          return Promise.resolve({ code: 0, stdout: '', stderr: '' });
        },
        forward: () => Promise.reject(new Error('no forwards in this test')),
      },
    };
    const steps: unknown[] = [];
    const secrets = new StackSecrets(new MemorySecretStore()).forProfile('home');
    const err = await configureStack(target, StackSettings.parse({}), secrets, (s) => steps.push(s)).catch((e: unknown) => e);
    expect(steps).toEqual([]);
    expect(err).toMatchObject({ code: 'stack.configure-failed' });
    const msg = (err as Error).message;
    // With Authentik on, the sign-in steps need the secrets the apply keeps: asked before any command.
    expect(msg).toMatch(/^Jellyfin: the keychain holds no password for Authentik’s LDAP account \(authentik\.ldap-bind-password\)\./);
    expect(msg).toContain('Nextcloud: the keychain holds no single sign-on client secret (nextcloud.oidc-secret) for it.');
    expect(msg).toContain('Authentik: the keychain holds no bootstrap token');
    expect(ran).toEqual([]);
    const noSso = await configureStack(target, StackSettings.parse({ modules: { authentik: { enabled: false } } }), secrets).catch((e: unknown) => e);
    expect((noSso as Error).message).toMatch(/^Jellyfin: no running container for the service jellyfin of the project m2\./);
    expect((noSso as Error).message).toContain('Nextcloud: no running container for the service nextcloud of the project m2.');
    expect(ran.map((a) => a.slice(0, 2))).toEqual([
      ['docker', 'ps'],
      ['docker', 'ps'],
    ]);
  });
});
