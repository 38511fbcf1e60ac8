/**
 * Authentik's API as the app reaches it: an SSH port forward to the authentik-server container on the server
 * (found by its Compose labels), HTTP spoken from Node with the bootstrap token from the keychain in a header — no
 * value ever appears on a command line on the server. One forward per change, closed after.
 */
import { AppError } from '../errors';
import type { Secret } from '../secrets/secret';
import { AUTHENTIK_BOOTSTRAP_TOKEN } from '../stack/configure/authentik';
import { containerAddresses, findContainer, httpRequest, jsonBody, openEndpoint, type ConfigureTarget } from '../stack/configure/common';
import type { AuthentikHttp } from './authentik-directory';

export interface AuthentikSession {
  readonly http: AuthentikHttp;
  readonly close: () => Promise<void>;
}

export async function openAuthentik(target: ConfigureTarget, token: Secret | undefined): Promise<AuthentikSession> {
  if (!token) {
    throw new AppError('household.authentik-failed', 'The keychain holds no Authentik bootstrap token for this server.', {
      hint: `Install the stack from this computer first (it makes ${AUTHENTIK_BOOTSTRAP_TOKEN.name}); Authentik reads it on its first start.`,
    });
  }
  const id = await findContainer(target, 'authentik', 'authentik-server');
  const ips = await containerAddresses(target, id);
  const endpoint = await openEndpoint(
    target,
    'authentik',
    ips.map((host) => ({ host, port: 9000 })),
    '/-/health/live/',
  );
  const http: AuthentikHttp = {
    async request(method, path, json) {
      const r = await httpRequest(endpoint.port, method, path, { headers: { authorization: `Bearer ${token.reveal()}` }, ...(json === undefined ? {} : { json }) });
      return { status: r.status, body: jsonBody(r) };
    },
  };
  return { http, close: () => endpoint.close() };
}
