/**
 * The update check and the update plan, pure over their inputs: which images the server's stack runs (its enabled
 * modules' pinned images), what each registry lists for them, and which of the admin's chosen tags may be
 * installed. A plan only ever changes `imageOverrides` (the per-server tags) of the saved settings.
 */
import type { StackSettings } from '../../contract/stack';
import { moduleDeclaration, type ModuleId } from '../../contract/stack-modules';
import type { ImageUpdate, UpdateChange } from '../../contract/updates';
import { AppError } from '../errors';
import { activeModules } from '../stack/render';
import { imageModules, pinnedImages, type ImageKey } from '../stack/versions';
import { normalizeRef } from '../stack/compose-commands';
import { imageRefFor, registryOf, repositoryFor, tagFor } from './image-ref';
import { newerTags, parseTag, levelOf, policyAllows, TAG_PATTERN } from './tags';

/** Newer tags listed per image at most. */
export const MAX_CANDIDATES = 10;

const isImageKey = (key: string): key is ImageKey => Object.prototype.hasOwnProperty.call(pinnedImages, key);

/** The pinned images the enabled modules use, each once, in module order. */
export function imagesInUse(settings: StackSettings): ImageKey[] {
  const out: ImageKey[] = [];
  for (const m of activeModules(settings)) {
    for (const key of Object.keys(moduleDeclaration(m.id as ModuleId).images)) if (isImageKey(key) && !out.includes(key)) out.push(key);
  }
  return out;
}

export const majorWarning = (key: string, from: string, to: string): string =>
  `${key} ${to} is a new major version (from ${from}): it may change its data or settings for good. Read its release notes before updating; a rollback brings the old version back but not data it already changed.`;

/** One image's row of the check from the tags its registry listed (or the error asking it gave). */
export function imageUpdate(
  settings: StackSettings,
  key: ImageKey,
  answer: { readonly tags: readonly unknown[] } | { readonly error: string },
  running: ReadonlyArray<{ readonly service: string; readonly image: string | null }>,
): ImageUpdate {
  const pinned = pinnedImages[key];
  const current = tagFor(settings, key);
  const ref = normalizeRef(imageRefFor(settings, key));
  const candidates = 'tags' in answer ? newerTags(current, answer.tags, pinned.updates).slice(0, MAX_CANDIDATES) : [];
  const major = candidates.find((c) => c.level === 'major');
  return {
    key,
    module: imageModules[key],
    repository: repositoryFor(pinned.repository, settings.imageRegistry),
    registry: registryOf(pinned.repository, settings.imageRegistry).label,
    policy: pinned.updates,
    current,
    candidates,
    services: [...new Set(running.filter((s) => s.image !== null && normalizeRef(s.image) === ref).map((s) => s.service))].sort(),
    releaseNotes: pinned.releaseNotes,
    warning: major ? majorWarning(key, current, major.tag) : null,
    error: 'error' in answer ? answer.error : null,
  };
}

/**
 * The settings an update installs, and what it changes. Refuses (naming the image) a key the stack does not run, a
 * tag that is not newer, or one the image's policy does not offer; a tag already running is left out.
 */
export function planUpdate(settings: StackSettings, requested: ReadonlyArray<{ readonly key: string; readonly tag: string }>): { settings: StackSettings; changes: UpdateChange[] } {
  const inUse = imagesInUse(settings);
  const overrides: Record<string, string> = { ...settings.imageOverrides };
  const changes: UpdateChange[] = [];
  const seen = new Set<string>();
  for (const { key, tag } of requested) {
    const name = JSON.stringify(key.slice(0, 40));
    if (!isImageKey(key) || !inUse.includes(key)) throw new AppError('updates.invalid', `Image ${name}: the stack on this server does not run it.`, { field: 'updates', hint: 'Check for updates again and choose from the list.' });
    if (seen.has(key)) throw new AppError('updates.invalid', `Image ${key}: chosen twice; choose one version.`, { field: 'updates' });
    seen.add(key);
    if (!TAG_PATTERN.test(tag)) throw new AppError('updates.invalid', `Image ${key}: ${JSON.stringify(tag.slice(0, 40))} is not an image tag.`, { field: 'updates' });
    const from = tagFor(settings, key);
    if (tag === from) continue;
    const a = parseTag(from);
    const b = parseTag(tag);
    const policy = pinnedImages[key].updates;
    if (!a || !b || newerTags(from, [tag], 'major').length === 0) {
      throw new AppError('updates.invalid', `Image ${key}: ${tag} is not a newer version of ${from}.`, { field: 'updates', hint: 'Check for updates again and choose from the list.' });
    }
    const level = levelOf(a, b);
    if (!policyAllows(policy, level)) {
      throw new AppError('updates.invalid', `Image ${key}: ${tag} is a ${level} update and ${key} takes ${policy} updates only.`, { field: 'updates', hint: 'Choose a version the list offers.' });
    }
    overrides[key] = tag;
    changes.push({ key, from, to: tag, level });
  }
  // A tag back at the pinned one needs no override.
  for (const c of changes) if (c.to === pinnedImages[c.key as ImageKey].tag) delete overrides[c.key];
  return { settings: { ...settings, imageOverrides: overrides }, changes };
}

/** The same update, for a retry: the same images to the same tags from the same ones. */
export const sameChanges = (a: readonly UpdateChange[], b: readonly UpdateChange[]): boolean =>
  a.length === b.length && a.every((c) => b.some((d) => d.key === c.key && d.from === c.from && d.to === c.to));
