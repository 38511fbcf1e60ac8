import type { FormField } from './declare';

/**
 * The settings every module shares, as the form shows them: where data lives and who owns it, then the admin's
 * email above the modules' host names. Their schemas are in ../stack.ts (StackSettings).
 */
export const storageFields: readonly FormField[] = [
  {
    kind: 'text',
    key: 'dataRoot',
    label: 'Service data folder',
    hint: 'Where service configs and databases live on the server. Never inside a release; another disk is fine.',
    placeholder: '/srv/m2',
  },
  {
    kind: 'select',
    key: 'publishAddress',
    label: 'Publish ports on',
    hint: 'Where TV apps and phones at home reach Jellyfin directly.',
    options: [
      { value: '0.0.0.0', label: 'The home network (every interface)' },
      { value: '127.0.0.1', label: 'This server only' },
    ],
  },
  {
    kind: 'row',
    fields: [
      { kind: 'text', key: 'uid', label: 'User id', inputMode: 'numeric', hint: 'Your user on the server (id -u).', value: 'number' },
      { kind: 'text', key: 'gid', label: 'Group id', inputMode: 'numeric', hint: 'Its group (id -g).', value: 'number' },
    ],
  },
  { kind: 'text', key: 'timezone', label: 'Time zone', placeholder: 'Europe/Berlin' },
  {
    kind: 'text',
    key: 'imageRegistry',
    label: 'Image registry',
    hint: 'Empty: each image comes from its own registry (Docker Hub, ghcr.io, lscr.io). A mirror of your own (host or host:port): every image is pulled from it, and updates are looked for there.',
    placeholder: 'registry.example.com:5000',
    value: 'string-or-null',
  },
];

export const adminFields: readonly FormField[] = [
  { kind: 'text', key: 'adminEmail', label: 'Admin email', inputMode: 'email', hint: 'Used for the admin accounts of Nextcloud and Authentik.' },
];
