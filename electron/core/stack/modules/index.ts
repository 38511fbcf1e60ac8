/** The stack's modules in render order (env files and services follow it). */
import type { StackModule } from '../types';
import { authentikModule } from './authentik';
import { backupModule } from './backup';
import { cloudflaredModule } from './cloudflared';
import { jellyfinModule } from './jellyfin';
import { mediaAutomationModule } from './media-automation';
import { nextcloudModule } from './nextcloud';
import { wireguardModule } from './wireguard';

export const stackModules: readonly StackModule[] = [
  jellyfinModule,
  nextcloudModule,
  authentikModule,
  cloudflaredModule,
  backupModule,
  wireguardModule,
  mediaAutomationModule,
];
