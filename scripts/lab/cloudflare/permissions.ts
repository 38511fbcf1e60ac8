// Token permission groups as the stand-in models them (stack-facts §4.7). A requirement names one
// canonical permission (the one an error message names) and every permission group that satisfies it.

export const PERMISSIONS = {
  accountSettingsRead: 'Account Settings Read',
  zoneRead: 'Zone Read',
  dnsRead: 'DNS Read',
  dnsWrite: 'DNS Write',
  tunnelRead: 'Cloudflare Tunnel Read',
  tunnelWrite: 'Cloudflare Tunnel Write',
  accessRead: 'Access: Apps and Policies Read',
  accessWrite: 'Access: Apps and Policies Write',
  accessOrgRead: 'Access: Organizations, Identity Providers, and Groups Read',
  accessOrgWrite: 'Access: Organizations, Identity Providers, and Groups Write',
  accessServiceTokensRead: 'Access: Service Tokens Read',
  accessServiceTokensWrite: 'Access: Service Tokens Write',
} as const;

/** Every permission group above: what the default "all" token holds. */
export const ALL_PERMISSIONS: readonly string[] = Object.values(PERMISSIONS);

export interface Requirement {
  /** Named in the 403 message. */
  name: string;
  /** Any one of these satisfies the requirement. */
  anyOf: readonly string[];
}

const tunnelWriteAliases = [
  PERMISSIONS.tunnelWrite,
  'Cloudflare One Connectors Write',
  'Cloudflare One Connector: cloudflared Write',
  'Argo Tunnel Write',
];

export const REQUIRE = {
  /** [UNVERIFIED] Real zone listing seems to accept any zone-level permission; modelled that way. */
  zoneRead: { name: PERMISSIONS.zoneRead, anyOf: [PERMISSIONS.zoneRead, 'Zone Write', PERMISSIONS.dnsRead, PERMISSIONS.dnsWrite] },
  dnsRead: { name: PERMISSIONS.dnsRead, anyOf: [PERMISSIONS.dnsRead, PERMISSIONS.dnsWrite] },
  dnsWrite: { name: PERMISSIONS.dnsWrite, anyOf: [PERMISSIONS.dnsWrite] },
  tunnelRead: {
    name: PERMISSIONS.tunnelRead,
    anyOf: [PERMISSIONS.tunnelRead, 'Cloudflare One Connectors Read', 'Cloudflare One Connector: cloudflared Read', 'Argo Tunnel Read', ...tunnelWriteAliases],
  },
  tunnelWrite: { name: PERMISSIONS.tunnelWrite, anyOf: tunnelWriteAliases },
  accessRead: { name: PERMISSIONS.accessRead, anyOf: [PERMISSIONS.accessRead, PERMISSIONS.accessWrite] },
  accessWrite: { name: PERMISSIONS.accessWrite, anyOf: [PERMISSIONS.accessWrite] },
  accessServiceTokensRead: { name: PERMISSIONS.accessServiceTokensRead, anyOf: [PERMISSIONS.accessServiceTokensRead, PERMISSIONS.accessServiceTokensWrite] },
  accessServiceTokensWrite: { name: PERMISSIONS.accessServiceTokensWrite, anyOf: [PERMISSIONS.accessServiceTokensWrite] },
  accessOrgRead: {
    name: PERMISSIONS.accessOrgRead,
    anyOf: [PERMISSIONS.accessOrgRead, PERMISSIONS.accessOrgWrite],
  },
  /** Access groups are in the same permission group as organizations and identity providers (stack-facts §4.7). */
  accessGroupsRead: { name: PERMISSIONS.accessOrgRead, anyOf: [PERMISSIONS.accessOrgRead, PERMISSIONS.accessOrgWrite] },
  accessGroupsWrite: { name: PERMISSIONS.accessOrgWrite, anyOf: [PERMISSIONS.accessOrgWrite] },
} satisfies Record<string, Requirement>;

export const satisfies = (held: readonly string[], need: Requirement): boolean => need.anyOf.some((p) => held.includes(p));
