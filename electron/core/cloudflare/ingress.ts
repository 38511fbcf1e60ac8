/** The tunnel's routes: each published host name to its service on the edge network, then the catch-all 404. */
import { toCloudflareError } from './cf-errors';
import { ingressRules, sameIngress, type HostPlan, type IngressRule } from './publish-plan';
import type { CloudflareContext, StepOutcome } from './run';
import { PERMISSION } from './token-check';

export async function ensureIngress(cx: CloudflareContext, tunnelId: string, account_id: string, hosts: readonly HostPlan[]): Promise<StepOutcome> {
  const { cf } = cx;
  const wanted = ingressRules(hosts);
  let current: IngressRule[] | undefined;
  try {
    current = (await cf.zeroTrust.tunnels.cloudflared.configurations.get(tunnelId, { account_id })).config?.ingress as IngressRule[] | undefined;
  } catch (err) {
    throw toCloudflareError(err, 'read the tunnel routes', PERMISSION.tunnelRead);
  }
  if (sameIngress(current, wanted)) return { status: 'unchanged', detail: `${hosts.length} route${hosts.length > 1 ? 's' : ''} and the catch-all 404 are in place.` };
  try {
    // The SDK types `hostname` as required; the API's catch-all rule has none (stack-facts §4.3).
    await cf.zeroTrust.tunnels.cloudflared.configurations.update(tunnelId, { account_id, config: { ingress: wanted as Array<{ hostname: string; service: string }> } });
  } catch (err) {
    throw toCloudflareError(err, 'set the tunnel routes', PERMISSION.tunnelWrite);
  }
  return { status: 'done', detail: hosts.map((h) => `${h.hostname} → ${h.origin}`).join('; ') + '; anything else → 404.' };
}
