import { z } from 'zod';
import { authentik } from './authentik';
import { backup } from './backup';
import { cloudflared } from './cloudflared';
import { hostnameField, type FormField, type ListField, type ModuleDeclaration, type PinnedImage, type SelectField, type TextField, type UpdatePolicy } from './declare';
import { jellyfin } from './jellyfin';
import { mediaAutomation } from './media-automation';
import { nextcloud } from './nextcloud';
import { wireguard } from './wireguard';

/**
 * The stack's modules, in the order they render, show in the settings form and list their images. Adding a module
 * is its declaration here (one line) and its compose rendering in core (one line in core's list, which the compiler
 * asks for); everything else below is derived.
 */
export const moduleDeclarations = [jellyfin, nextcloud, authentik, cloudflared, backup, wireguard, mediaAutomation] as const satisfies readonly ModuleDeclaration[];

type Declarations = typeof moduleDeclarations;
type AnyDeclaration = Declarations[number];

type IdsOf<T extends readonly ModuleDeclaration[]> = { readonly [K in keyof T]: T[K] extends { readonly id: infer I } ? I : never };
/** Every module's id, in module order. */
export const moduleIds = moduleDeclarations.map((d) => d.id) as unknown as IdsOf<Declarations>;
export const ModuleId = z.enum(moduleIds);
export type ModuleId = z.infer<typeof ModuleId>;

const byId = new Map<string, ModuleDeclaration>(moduleDeclarations.map((d) => [d.id, d]));

/** A module's declaration by id. */
export const moduleDeclaration = (id: ModuleId): AnyDeclaration => byId.get(id) as AnyDeclaration;

/** The module's name as the admin reads it: "Cloudflare Tunnel", "Backups". */
export const moduleTitle = (id: ModuleId): string => moduleDeclaration(id).title;

type ModulesShape = { [D in AnyDeclaration as D['id']]: z.ZodPrefault<D['settings']> };
/** Every module's settings under its id, each defaulting to its own defaults. */
export const ModulesSettings = z.object(
  Object.fromEntries(moduleDeclarations.map((d) => [d.id, (d.settings as z.ZodObject).prefault({})])) as unknown as ModulesShape,
);

type WithHostname = Extract<AnyDeclaration, { readonly hostname: object }>;
type HostnamesShape = { [D in WithHostname as D['id']]: z.ZodDefault<z.ZodType<string>> };
/** The modules published under a host name of their own, in module order. */
export const hostnameModules = moduleDeclarations.filter((d): d is WithHostname => 'hostname' in d);
/** Each published module's public host name. */
export const HostnamesSettings = z.object(
  Object.fromEntries(hostnameModules.map((d) => [d.id, hostnameField(d.hostname.label).default(d.hostname.default)])) as unknown as HostnamesShape,
);

type ImageKeyOf<D> = D extends { readonly images: infer I } ? keyof I & string : never;
export type ImageKey = ImageKeyOf<AnyDeclaration>;

function collectImages(): { images: Record<ImageKey, PinnedImage>; modules: Record<ImageKey, ModuleId> } {
  const images: Record<string, PinnedImage> = {};
  const modules: Record<string, ModuleId> = {};
  for (const d of moduleDeclarations) {
    for (const [key, image] of Object.entries(d.images) as Array<[string, PinnedImage]>) {
      const seen = images[key];
      if (seen && (seen.repository !== image.repository || seen.tag !== image.tag || seen.releaseNotes !== image.releaseNotes || seen.updates !== image.updates)) {
        throw new Error(`modules ${modules[key] ?? '?'} and ${d.id} pin different images under ${key}`);
      }
      if (!seen) {
        images[key] = image;
        modules[key] = d.id;
      }
    }
  }
  return { images, modules };
}

const collected = collectImages();
/**
 * The one table of pinned images, from every module's declaration in module order (an image two modules use is
 * listed once, under the first). An update of the stack is a change of these declarations. The lab builds its
 * stand-in images under exactly these names and tags, so the real compose file runs unchanged against them.
 * Sources: ../shared/reference/stack-facts.md (versions seen Jul–Aug 2026).
 */
export const pinnedImages: Readonly<Record<ImageKey, PinnedImage>> = collected.images;
/** The module each pinned image is listed under. */
export const imageModules: Readonly<Record<ImageKey, ModuleId>> = collected.modules;

/** Compose service name → the module that declares it. */
export const serviceModules: ReadonlyMap<string, ModuleId> = new Map(
  moduleDeclarations.flatMap((d) => Object.keys(d.services).map((service) => [service, d.id as ModuleId] as const)),
);

export type { FormField, ListField, ModuleDeclaration, PinnedImage, SelectField, TextField, UpdatePolicy };
