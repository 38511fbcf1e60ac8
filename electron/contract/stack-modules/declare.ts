import { z } from 'zod';
import { isDnsName } from '../validation';

/**
 * What a stack module says about itself, in pure data the renderer can read too: its title and description, its
 * settings (zod, with messages that name the field), the form fields that edit them, the images it pins with where
 * to read what each version changes, and the services it runs with what healthy means for each. The compose
 * rendering lives beside it in core (electron/core/stack/modules/) and reads these declarations; the contract's
 * settings schema, the settings form, the pinned-images list, the review and the image map are derived from them.
 */

/**
 * Which newer tags the update check offers for an image (its tag read as numbers `A[.B[.C[.D]]]` plus the same
 * suffix, e.g. `-apache`): 'patch' only the last number moves (A.B.x, or A.B.C.x); 'minor' A.x.y; 'major' any
 * higher version, a new first number offered with a warning (it may need a migration: read the release notes).
 */
export type UpdatePolicy = 'patch' | 'minor' | 'major';

/** One pinned image: the tag the app was tested with and where the admin reads what changed. */
export interface PinnedImage {
  /** Repository as it appears in `image:` (registry prefix kept where upstream documents one). */
  readonly repository: string;
  readonly tag: string;
  /** Where the admin can read what changed in this version. */
  readonly releaseNotes: string;
  /** Which newer versions the update check offers (UpdatePolicy). */
  readonly updates: UpdatePolicy;
}

/** A service the module may run, and what its health check proves (the check itself is in the compose rendering). */
export interface ServiceDeclaration {
  /** What the service is for, in the admin's words. */
  readonly role: string;
  /** What "healthy" means for it. */
  readonly health: string;
}

/** Reads the form's current value at a settings path (`modules.wireguard.enabled`), for fields shown only sometimes. */
export type DraftValue = (path: string) => string | boolean | readonly string[] | undefined;

interface FieldBase {
  /** Shown only while this holds for the form's current values; the value is kept (and checked) while hidden. */
  readonly when?: (value: DraftValue) => boolean;
}

/**
 * A text box. `value` says how the typed text becomes the setting: as is, a number (empty or not a number is
 * refused with the field's own message), or a number or text where empty means "none" (null).
 */
export interface TextField extends FieldBase {
  readonly kind: 'text';
  /** The setting's key inside the module's settings (or the stack's, for stack-wide fields). */
  readonly key: string;
  readonly label: string;
  readonly hint?: string;
  readonly placeholder?: string;
  readonly inputMode?: 'numeric' | 'email';
  readonly value?: 'string' | 'number' | 'number-or-null' | 'string-or-null';
}

export interface SelectField extends FieldBase {
  readonly kind: 'select';
  readonly key: string;
  readonly label: string;
  readonly hint?: string;
  readonly options: ReadonlyArray<{ readonly value: string; readonly label: string }>;
  readonly value?: 'string' | 'number';
}

/** A list of folders (or other text), one row each with a Remove button, and an Add button. */
export interface ListField extends FieldBase {
  readonly kind: 'list';
  readonly key: string;
  /** The group's name and title. */
  readonly label: string;
  readonly hint: string;
  /** Shown while the list is empty. */
  readonly empty: string;
  /** One row's label, numbered from 1: "Media folder 2". */
  readonly itemLabel: string;
  readonly placeholder?: string;
  /** The Add button's text. */
  readonly add: string;
}

/** Fields side by side. */
export interface RowField extends FieldBase {
  readonly kind: 'row';
  readonly fields: readonly FormField[];
}

/**
 * A control the generic form cannot draw, named here and drawn by the renderer's widget of that name (Jellyfin's
 * hardware acceleration with what detection suggests). `keys` are the settings it edits; `labels` their labels.
 */
export interface WidgetField extends FieldBase {
  readonly kind: 'widget';
  readonly widget: 'hw-accel';
  readonly keys: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export type FormField = TextField | SelectField | ListField | RowField | WidgetField;

export interface ModuleDeclaration {
  /** The key under `modules` in the settings, and the module label of its containers. */
  readonly id: string;
  readonly title: string;
  /** One line under the module's switch in the settings form. */
  readonly description: string;
  /** A module the stack always has (its switch shows on and cannot be turned off). */
  readonly alwaysOn?: true;
  /** Every field with a default, so `{}` is the module's default settings. */
  readonly settings: z.ZodObject;
  readonly fields: readonly FormField[];
  /** A public host name the module is published under (through the tunnel), with its label and an example default. */
  readonly hostname?: { readonly label: string; readonly default: string };
  /** Image key → pinned image. A key shared with another module (postgres) must pin the same image. */
  readonly images: Readonly<Record<string, PinnedImage>>;
  /** Compose service name → what it is; the rendering refuses a service its module did not declare. */
  readonly services: Readonly<Record<string, ServiceDeclaration>>;
}

/** Keeps a declaration's exact type (its id, settings and host name), so the derived schema keeps every field's type. */
export const defineModule = <const D extends ModuleDeclaration>(d: D): D => d;

// Schema builders shared by the declarations: each message starts with the field's name, as the admin sees it.

export const portField = (field: string): z.ZodNumber =>
  z
    .number({ error: `${field}: enter a port number from 1 to 65535.` })
    .int(`${field}: use a whole number from 1 to 65535.`)
    .min(1, `${field}: use a number from 1 to 65535.`)
    .max(65535, `${field}: use a number from 1 to 65535.`);

export const hostnameField = (field: string): z.ZodType<string> =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => isDnsName(s) && s.includes('.'), `${field}: enter a full host name such as media.example.com (letters, digits, dashes and dots).`);

export const emailField = (field: string): z.ZodType<string> =>
  z
    .string()
    .trim()
    .max(254, `${field}: keep the address under 254 characters.`)
    .refine((s) => /^[^\s@"'`$\\<>()]+@[^\s@"'`$\\<>()]+\.[^\s@"'`$\\<>()]+$/u.test(s) && !/[\p{Cc}\p{Cf}]/u.test(s), `${field}: enter an email address such as admin@example.com.`);

/** Numeric host ids (uid, gid): containers that write bind-mounted folders run as the admin's user. */
export const hostId = (field: string): z.ZodNumber =>
  z
    .number({ error: `${field}: enter a whole number of 0 or more.` })
    .int(`${field}: use a whole number.`).min(0, `${field}: use a number of 0 or more.`).max(4_294_967_294, `${field}: the id is too large.`);
