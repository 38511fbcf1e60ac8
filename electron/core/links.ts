/**
 * Every outside link the app can show, gathered from the tables that hold them (the pinned images' release notes,
 * preflight's fixes, the renderer's own links), and the policy that opens those plus the admin's own service
 * addresses. Electron main and the web host ask this one policy; adding a link to a table allows it.
 */
import { linkAllowed, rendererLinks, type LinkRules } from '../contract/links';
import { links as preflightLinks } from './preflight/checks';
import { pinnedImages } from './stack/versions';

export interface AppLink {
  readonly url: string;
  /** Which table it comes from, for a test's failure message. */
  readonly from: string;
}

export const appLinks: readonly AppLink[] = [
  ...Object.entries(pinnedImages).map(([key, image]) => ({ url: image.releaseNotes, from: `release notes of ${key} (its module's declaration in contract/stack-modules)` })),
  ...Object.entries(preflightLinks).map(([key, fix]) => ({ url: fix.url, from: `preflight fix ${key} (preflight/checks.ts)` })),
  ...Object.entries(rendererLinks).map(([key, link]) => ({ url: link.url, from: `renderer link ${key} (contract/links.ts)` })),
];

export interface LinkPolicyDeps {
  /** Origins of the admin's own services across saved servers (published hostnames, Jellyfin at home). */
  readonly ownOrigins: () => Promise<string[]>;
}

export class LinkPolicy {
  readonly #deps: LinkPolicyDeps;

  constructor(deps: LinkPolicyDeps) {
    this.#deps = deps;
  }

  /** The app's links, and the admin's addresses as far as they can be read (none when they cannot). */
  async rules(): Promise<LinkRules & { links: string[]; origins: string[] }> {
    const origins = await this.#deps.ownOrigins().catch(() => []);
    return { links: [...new Set(appLinks.map((l) => l.url))], origins };
  }

  /** May the app open `url` outside itself? */
  async allows(url: string): Promise<boolean> {
    return linkAllowed(url, await this.rules());
  }
}
