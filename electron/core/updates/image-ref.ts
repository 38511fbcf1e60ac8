/**
 * Where an image comes from: its upstream registry and path, or the server's image registry (a mirror, the lab's
 * registry) when the settings name one. The compose file pulls exactly the reference `pullRef` gives, and the update
 * check asks the registry `registryOf` gives, so both always speak of the same image.
 */
import type { StackSettings } from '../../contract/stack';
import { pinnedImages, type ImageKey } from '../stack/versions';

/** Docker Hub as a registry API host (references without a host are Hub images). */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RegistryCoordinates {
  /** host[:port] the HTTP API is at. */
  readonly host: string;
  /** http only for a loopback registry, as Docker itself allows (127.0.0.0/8 and localhost are insecure by default). */
  readonly scheme: 'http' | 'https';
  /** The repository's name inside that registry (`library/postgres`, `goauthentik/server`). */
  readonly name: string;
  /** The registry as the admin reads it in messages (`Docker Hub`, `ghcr.io`, `127.0.0.1:5055`). */
  readonly label: string;
}

const hasHost = (first: string): boolean => first.includes('.') || first.includes(':') || first === 'localhost';

/** A repository as written in `image:` split into its registry host (null: Docker Hub) and its path there. */
export function splitRepository(repository: string): { host: string | null; path: string } {
  const slash = repository.indexOf('/');
  if (slash > 0 && hasHost(repository.slice(0, slash))) return { host: repository.slice(0, slash), path: repository.slice(slash + 1) };
  return { host: null, path: repository };
}

export const isLoopbackRegistry = (host: string): boolean => /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/.test(host);

/** The registry the server pulls `repository` from under these settings. */
export function registryOf(repository: string, imageRegistry: string | null): RegistryCoordinates {
  const { host, path } = splitRepository(repository);
  const scheme = (h: string): 'http' | 'https' => (isLoopbackRegistry(h) ? 'http' : 'https');
  if (imageRegistry) return { host: imageRegistry, scheme: scheme(imageRegistry), name: path, label: imageRegistry };
  if (host === null || host === 'docker.io' || host === 'index.docker.io') {
    return { host: DOCKER_HUB_API, scheme: 'https', name: path.includes('/') ? path : `library/${path}`, label: 'Docker Hub' };
  }
  return { host, scheme: scheme(host), name: path, label: host };
}

/** The repository as the compose file names it under these settings (the mirror's name, or the upstream one). */
export function repositoryFor(repository: string, imageRegistry: string | null): string {
  return imageRegistry ? `${imageRegistry}/${splitRepository(repository).path}` : repository;
}

/** The tag a server runs for a pinned image: the settings' override, else the pinned tag. */
export const tagFor = (settings: Pick<StackSettings, 'imageOverrides'>, key: ImageKey): string => settings.imageOverrides[key] ?? pinnedImages[key].tag;

/** The image reference the compose file uses for a pinned image under these settings. */
export const imageRefFor = (settings: Pick<StackSettings, 'imageOverrides' | 'imageRegistry'>, key: ImageKey): string =>
  `${repositoryFor(pinnedImages[key].repository, settings.imageRegistry)}:${tagFor(settings, key)}`;
