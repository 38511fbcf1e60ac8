/** The stack's modules' compose rendering, in the order their declarations give (env files and services follow it). */
import { moduleIds, type ModuleId } from '../../../contract/stack';
import type { StackModule } from '../types';
import { authentikModule } from './authentik';
import { backupModule } from './backup';
import { cloudflaredModule } from './cloudflared';
import { jellyfinModule } from './jellyfin';
import { mediaAutomationModule } from './media-automation';
import { nextcloudModule } from './nextcloud';
import { wireguardModule } from './wireguard';

/** One line per module; a declared module without its rendering here does not compile. */
const rendering: { readonly [K in ModuleId]: StackModule } = {
  jellyfin: jellyfinModule,
  nextcloud: nextcloudModule,
  authentik: authentikModule,
  cloudflared: cloudflaredModule,
  backup: backupModule,
  wireguard: wireguardModule,
  mediaAutomation: mediaAutomationModule,
};

export const stackModules: readonly StackModule[] = moduleIds.map((id) => rendering[id]);
