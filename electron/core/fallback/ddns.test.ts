import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import type { Argv } from '../ssh/argv';
import type { CommandRunner, ExecResult } from '../ssh/runner';
import { checkEndpointName, endpointMarker, parseTrace, publicIpFromServer, traceCommand } from './ddns';
import type { Discovery } from './port-mapping';

// The shape of https://1.1.1.1/cdn-cgi/trace (key=value lines, facts §6).
const TRACE = 'fl=466f83\nh=1.1.1.1\nip=198.51.99.23\nts=1733342400.123\nvisit_scheme=https\nuag=curl/7.88.1\ncolo=FRA\nsliver=none\nhttp=http/2\nloc=DE\ntls=TLSv1.3\nsni=off\nwarp=off\ngateway=off\nrbi=off\nkex=X25519\n';

describe('endpoint name', () => {
  it('accepts a host name, lower-cased and without a trailing dot', () => {
    expect(checkEndpointName('Home.Example.com.')).toBe('home.example.com');
    expect(checkEndpointName(' vpn-1.home.example.com ')).toBe('vpn-1.home.example.com');
  });

  it.each([
    '',
    'home',
    '*.example.com',
    'home.example.com; rm -rf /',
    '$(reboot).example.com',
    'home..example.com',
    '-home.example.com',
    'home.example.com\nx.example.com',
    'hôme.example.com',
    '../../etc/passwd',
    `${'a'.repeat(64)}.example.com`,
    `${'a.'.repeat(130)}com`,
    '1.2.3.4',
  ])('refuses %j with a message naming the field', (name) => {
    let err: unknown;
    try {
      checkEndpointName(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('fallback.invalid');
    expect((err as AppError).userMessage).toMatch(/^Endpoint name: /);
    expect((err as AppError).field).toBe('Endpoint name');
  });

  it('marks records as the endpoint’s, apart from the published hostnames’ marker', () => {
    expect(endpointMarker()).toBe('managed-by:m2-companion endpoint');
    expect(endpointMarker('home')).toBe('managed-by:m2-companion endpoint profile=home');
  });
});

describe('public address from the server', () => {
  it('asks Cloudflare’s trace with curl, bounded', () => {
    expect(traceCommand()).toEqual(['curl', '--silent', '--max-time', '3', '--connect-timeout', '3', 'https://1.1.1.1/cdn-cgi/trace']);
    expect(traceCommand('http://10.213.83.2:8080/cdn-cgi/trace', 1)).toEqual(['curl', '--silent', '--max-time', '1', '--connect-timeout', '1', 'http://10.213.83.2:8080/cdn-cgi/trace']);
  });

  it('reads ip= from the trace, and nothing from a body without one', () => {
    expect(parseTrace(TRACE)).toBe('198.51.99.23');
    expect(parseTrace('<html>blocked</html>')).toBeNull();
    expect(parseTrace('ip=2001:db8::1\n')).toBeNull();
  });

  const server = (r: Partial<ExecResult>): CommandRunner & { calls: Argv[] } => {
    const calls: Argv[] = [];
    return { calls, exec: async (argv) => (calls.push(argv), { code: 0, stdout: '', stderr: '', ...r }) };
  };
  const router = (externalIp: string | null): { discover: () => Promise<Discovery> } => ({
    discover: async () => ({ upnp: true, natpmp: false, externalIp, lanIp: '192.168.1.20', router: '192.168.1.1', cgnat: false, detail: '', tools: { upnpc: true, natpmpc: true }, rootDescUrl: null }),
  });

  it('takes the trace’s answer first', async () => {
    const conn = server({ stdout: TRACE });
    await expect(publicIpFromServer(conn, { mapper: router('203.0.114.7') })).resolves.toBe('198.51.99.23');
    expect(conn.calls).toEqual([traceCommand()]);
  });

  it('falls back to the router’s internet address when the trace does not answer, but not to a CGNAT one', async () => {
    const timedOut = server({ code: 28 });
    await expect(publicIpFromServer(timedOut, { mapper: router('203.0.114.7') })).resolves.toBe('203.0.114.7');
    await expect(publicIpFromServer(timedOut, { mapper: router('100.64.7.1') })).resolves.toBeNull();
    await expect(publicIpFromServer(timedOut)).resolves.toBeNull();
  });
});
