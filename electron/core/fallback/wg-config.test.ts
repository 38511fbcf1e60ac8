import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretMask } from '../../contract/stack';
import { AppError } from '../errors';
import { Secret } from '../secrets/secret';
import { configFileName, isCidr, isEndpoint, parseWgShowDump, renderPeerConfig, renderServerConfig, sanitizeComment, type ServerConfigInput } from './wg-config';

// Fixed keys so the expected text is exact (the RFC 7748 §6.1 pair and two more valid keys).
const SERVER_PRIV = 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=';
const SERVER_PUB = 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=';
const DEV_PUB = '3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=';
const DEV2_PUB = 'Ko0Oc/QQE9XvJpdreYaCbiboPN32opFAZsXjUjmeLiU=';
const DEV_PRIV = 'XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=';
const PSK = 'wv5zzxgdyzNQPImPr3Mof+68CCP9gTouPZwSjmCLLjg=';

const server = (over: Partial<ServerConfigInput> = {}): ServerConfigInput => ({
  privateKey: new Secret(SERVER_PRIV),
  address: '10.13.13.1/24',
  listenPort: 51820,
  peers: [
    { id: 'a1b2c3d4e5', name: 'Anna’s phone', publicKey: DEV_PUB, presharedKey: new Secret(PSK), allowedIps: ['10.13.13.2/32'] },
    { id: 'laptop0001', name: 'This laptop', publicKey: DEV2_PUB, allowedIps: ['10.13.13.3/32', 'fd00::3/128'] },
  ],
  ...over,
});

/** What a wg-quick/wg parser sees: sections and key = value pairs; comments (after '#') dropped. */
const structure = (text: string): string[] =>
  text
    .split(/\r\n|[\n\r\u0085\u2028\u2029]/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => (l.startsWith('[') ? l : (l.split('=')[0] ?? '').trim()));

describe('renderServerConfig', () => {
  it('renders the server’s wg-quick config exactly', () => {
    const { content } = renderServerConfig(server());
    expect(content).toBe(
      [
        '[Interface]',
        'Address = 10.13.13.1/24',
        'ListenPort = 51820',
        `PrivateKey = ${SERVER_PRIV}`,
        '',
        '[Peer]',
        '# a1b2c3d4e5 Anna’s phone',
        `PublicKey = ${DEV_PUB}`,
        `PresharedKey = ${PSK}`,
        'AllowedIPs = 10.13.13.2/32',
        '',
        '[Peer]',
        '# laptop0001 This laptop',
        `PublicKey = ${DEV2_PUB}`,
        'AllowedIPs = 10.13.13.3/32, fd00::3/128',
        '',
      ].join('\n'),
    );
  });

  it('gives a masked form with every secret replaced and the same shape', () => {
    const { content, masked } = renderServerConfig(server({ postUp: ['iptables -A FORWARD -i %i -j ACCEPT'], postDown: ['iptables -D FORWARD -i %i -j ACCEPT'] }));
    expect(masked).not.toContain(SERVER_PRIV);
    expect(masked).not.toContain(PSK);
    expect(masked).toContain(`PrivateKey = ${secretMask}`);
    expect(masked).toContain(`PresharedKey = ${secretMask}`);
    expect(masked).toContain(DEV_PUB);
    expect(masked.replaceAll(secretMask, '')).toBe(content.replace(SERVER_PRIV, '').replace(PSK, ''));
    expect(content).toContain('PostUp = iptables -A FORWARD -i %i -j ACCEPT\nPostDown = iptables -D FORWARD -i %i -j ACCEPT\n');
  });

  it('is deterministic: the same input gives the same bytes', () => {
    expect(renderServerConfig(server()).content).toBe(renderServerConfig(server()).content);
    expect(renderServerConfig(server()).masked).toBe(renderServerConfig(server()).masked);
  });

  it('keeps any device name inside its comment: no new line, section or key', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: fc.constantFrom('\n', '\r', '[', ']', '=', '#', '\u2028', '\u0085', '\\', ' ', 'A', 'PrivateKey', 'Peer'), maxLength: 40 }), (a, b) => {
        const name = a + b;
        const { content } = renderServerConfig(server({ peers: [{ id: 'dev1', name, publicKey: DEV_PUB, allowedIps: ['10.13.13.2/32'] }] }));
        const lines = content.split('\n');
        expect(lines).toHaveLength(10); // 4 interface lines, a blank, [Peer], the comment, 2 keys, '' after the last newline
        expect(lines[6]?.startsWith('# dev1')).toBe(true);
        expect(structure(content)).toEqual(['[Interface]', 'Address', 'ListenPort', 'PrivateKey', '[Peer]', 'PublicKey', 'AllowedIPs']);
        expect(Array.from(lines[6] ?? '').length).toBeLessThanOrEqual('# dev1 '.length + 40);
      }),
      { numRuns: 300 },
    );
  });

  it('sanitises names for comments', () => {
    expect(sanitizeComment('Anna’s phone')).toBe('Anna’s phone');
    expect(sanitizeComment('evil\n[Peer]\nPublicKey = x')).toBe('evil Peer PublicKey x');
    expect(sanitizeComment('a\u2028b\u0085c\rd\u200be')).toBe('a b c d e');
    expect(sanitizeComment('x'.repeat(100))).toHaveLength(40);
    expect(sanitizeComment('\n\n')).toBe('');
    expect(renderServerConfig(server({ peers: [{ id: 'dev1', name: '\n#', publicKey: DEV_PUB, allowedIps: ['10.13.13.2/32'] }] })).content).toContain('[Peer]\n# dev1\nPublicKey');
  });

  it('refuses values wg would reject or misread, with a fallback.invalid error', () => {
    const bad: Partial<ServerConfigInput>[] = [
      { privateKey: new Secret('nope') },
      { address: '10.13.13.1' },
      { address: '10.13.13.1/24\nPostUp = id' },
      { listenPort: 0 },
      { listenPort: 70000 },
      { peers: [{ id: 'x y', name: '', publicKey: DEV_PUB, allowedIps: ['10.13.13.2/32'] }] },
      { peers: [{ id: 'dev1', name: '', publicKey: 'short', allowedIps: ['10.13.13.2/32'] }] },
      { peers: [{ id: 'dev1', name: '', publicKey: DEV_PUB, allowedIps: [] }] },
      { peers: [{ id: 'dev1', name: '', publicKey: DEV_PUB, allowedIps: ['10.13.13.2/33'] }] },
      { peers: [{ id: 'dev1', name: '', publicKey: DEV_PUB, allowedIps: ['10.13.13.2/32, 0.0.0.0/0'] }] },
      { peers: [{ id: 'dev1', name: '', publicKey: DEV_PUB, presharedKey: new Secret('x'), allowedIps: ['10.13.13.2/32'] }] },
      {
        peers: [
          { id: 'dev1', name: '', publicKey: DEV_PUB, allowedIps: ['10.13.13.2/32'] },
          { id: 'dev2', name: '', publicKey: DEV_PUB, allowedIps: ['10.13.13.3/32'] },
        ],
      },
      { postUp: ['a\nb'] },
    ];
    for (const over of bad) {
      let err: unknown;
      try {
        renderServerConfig(server(over));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(over)).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('fallback.invalid');
      expect((err as AppError).userMessage).not.toContain(SERVER_PRIV);
    }
  });
});

describe('renderPeerConfig', () => {
  const peer = {
    privateKey: new Secret(DEV_PRIV),
    address: '10.13.13.2/32',
    serverPublicKey: SERVER_PUB,
    presharedKey: new Secret(PSK),
    endpoint: 'home.example.com:51820',
    allowedIps: ['10.13.13.1/32'],
    persistentKeepalive: 25,
    dns: ['10.13.13.1'],
  };

  it('renders the plain wg-quick text the WireGuard apps import', () => {
    expect(renderPeerConfig(peer)).toBe(
      [
        '[Interface]',
        `PrivateKey = ${DEV_PRIV}`,
        'Address = 10.13.13.2/32',
        'DNS = 10.13.13.1',
        '',
        '[Peer]',
        `PublicKey = ${SERVER_PUB}`,
        `PresharedKey = ${PSK}`,
        'AllowedIPs = 10.13.13.1/32',
        'Endpoint = home.example.com:51820',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
  });

  it('leaves out what is not given', () => {
    const { presharedKey: _p, dns: _d, persistentKeepalive: _k, ...minimal } = peer;
    expect(renderPeerConfig({ ...minimal, endpoint: '[2001:db8::7]:51820', allowedIps: ['10.13.13.1/32', '192.168.1.0/24'] })).toBe(
      ['[Interface]', `PrivateKey = ${DEV_PRIV}`, 'Address = 10.13.13.2/32', '', '[Peer]', `PublicKey = ${SERVER_PUB}`, 'AllowedIPs = 10.13.13.1/32, 192.168.1.0/24', 'Endpoint = [2001:db8::7]:51820', ''].join('\n'),
    );
    expect(renderPeerConfig({ ...peer, persistentKeepalive: 0 })).not.toContain('PersistentKeepalive');
  });

  it('refuses endpoints, addresses and DNS entries wg-quick would misread', () => {
    for (const over of [
      { endpoint: 'home.example.com' },
      { endpoint: 'home.example.com:0' },
      { endpoint: 'home.example.com:65536' },
      { endpoint: '2001:db8::7:51820' },
      { endpoint: 'home.example.com:51820\nPostUp = id' },
      { endpoint: 'exa mple.com:51820' },
      { address: '10.13.13.2' },
      { dns: ['10.13.13.1; id'] },
      { persistentKeepalive: 70000 },
      { serverPublicKey: SERVER_PUB.slice(1) },
    ]) {
      expect(() => renderPeerConfig({ ...peer, ...over }), JSON.stringify(over)).toThrow(AppError);
    }
  });
});

describe('small checks', () => {
  it('knows address ranges and endpoints', () => {
    for (const ok of ['10.0.0.1/32', '0.0.0.0/0', '::/0', 'fd00::1/128']) expect(isCidr(ok), ok).toBe(true);
    for (const no of ['10.0.0.1', '10.0.0.1/33', 'fd00::1/129', '10.0.0.1/032', 'x/8', '10.0.0.1/8/8']) expect(isCidr(no), no).toBe(false);
    for (const ok of ['a.example:1', '203.0.113.9:51820', '[::1]:65535']) expect(isEndpoint(ok), ok).toBe(true);
    for (const no of ['a.example', '[::1]', '::1:5', 'a.example:051820', '[10.0.0.1]:5', 'a_b.example:5']) expect(isEndpoint(no), no).toBe(false);
  });
});

describe('parseWgShowDump', () => {
  // Recorded from `wg show m2dumpx dump` (wireguard-tools 1.0.20210914 + wireguard-go) in a throwaway namespace.
  const PRIV = 'eJvLn2RnIoH0sN0pYnDIQeA8xI5dXVx0cTdcujnmSGI=';
  const DUMP_PSK = 'q3Xk0b5o0ZLJmN9p2Vd1m8cRrYVYqz3ZQfL0z8b2n1E=';
  const dump = [
    `${PRIV}\tbmjLim2LWtVawfBCehkJg9BXy+j8lduuWJZlmjB+PB4=\t51999\toff`,
    `Ko0Oc/QQE9XvJpdreYaCbiboPN32opFAZsXjUjmeLiU=\t${DUMP_PSK}\t192.0.2.1:51820\t10.13.13.2/32,fd00::2/128\t1796415906\t892\t276\t25`,
    'wv5zzxgdyzNQPImPr3Mof+68CCP9gTouPZwSjmCLLjg=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
    '',
  ].join('\n');

  it('reads the interface and each peer, and keeps no private or preshared key', () => {
    const r = parseWgShowDump(dump);
    expect(r).toEqual({
      publicKey: 'bmjLim2LWtVawfBCehkJg9BXy+j8lduuWJZlmjB+PB4=',
      listenPort: 51999,
      peers: [
        { publicKey: 'Ko0Oc/QQE9XvJpdreYaCbiboPN32opFAZsXjUjmeLiU=', endpoint: '192.0.2.1:51820', allowedIps: ['10.13.13.2/32', 'fd00::2/128'], latestHandshake: 1796415906, rxBytes: 892, txBytes: 276, persistentKeepalive: 25 },
        { publicKey: 'wv5zzxgdyzNQPImPr3Mof+68CCP9gTouPZwSjmCLLjg=', endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: null },
      ],
    });
    expect(JSON.stringify(r)).not.toContain(PRIV);
    expect(JSON.stringify(r)).not.toContain(DUMP_PSK);
  });

  it('answers null for anything that is not one interface’s dump', () => {
    expect(parseWgShowDump('')).toBeNull();
    expect(parseWgShowDump('Unable to access interface: No such device\n')).toBeNull();
    expect(parseWgShowDump(`wgm2s\t${dump}`)).toBeNull(); // `wg show all dump` has an interface column
    expect(parseWgShowDump(dump.replace('\t892\t', '\tlots\t'))).toBeNull();
    expect(parseWgShowDump(`${PRIV}\t(none)\t51999\toff\n`)).toBeNull();
  });

  it('reads an interface with no peers', () => {
    expect(parseWgShowDump(`${PRIV}\tbmjLim2LWtVawfBCehkJg9BXy+j8lduuWJZlmjB+PB4=\t0\toff\n`)).toEqual({ publicKey: 'bmjLim2LWtVawfBCehkJg9BXy+j8lduuWJZlmjB+PB4=', listenPort: 0, peers: [] });
  });
});

describe('configFileName', () => {
  it('derives a name the WireGuard apps and wg-quick accept', () => {
    expect(configFileName('Anna’s phone')).toBe('Anna-s-phone.conf');
    expect(configFileName('Café Öl')).toBe('Cafe-Ol.conf');
    expect(configFileName('  living room TV (old one)')).toBe('living-room-TV.conf');
    expect(configFileName('m2-home')).toBe('m2-home.conf');
    expect(configFileName('日本語')).toBe('m2-device.conf');
    expect(configFileName('../../etc/passwd')).toBe('etc-passwd.conf');
    expect(configFileName('-rf')).toBe('rf.conf');
    expect(configFileName('')).toBe('m2-device.conf');
  });

  it('always matches wg-quick’s interface-name rule, whatever the name', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (name) => {
        const f = configFileName(name);
        expect(f).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]{0,14}\.conf$/);
        expect(f).toMatch(/^[a-zA-Z0-9_=+.-]{1,15}\.conf$/);
      }),
      { numRuns: 500 },
    );
  });
});
