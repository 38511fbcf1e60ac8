/**
 * The stack's secrets for one server profile (DESIGN.md §5): generated with a CSPRNG the first time a module
 * asks for them, kept in the OS keychain (service `m2-companion`, account `<profile>/<name>`), never generated
 * twice. The renderer only ever sees `SecretSummary` (masked).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { secretMask } from '../../contract/stack';
import type { SecretStore } from '../secrets/keychain';
import { Secret } from '../secrets/secret';
import type { SecretRequest } from './types';

/** A CSPRNG: `crypto.randomBytes` in the app; a scripted source in tests. */
export type RandomBytes = (size: number) => Buffer;

export const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const PASSWORD_LENGTH = 24;
/** 62 × 4: bytes at or above this would favour the first 8 characters, so they are drawn again. */
const PASSWORD_BYTE_LIMIT = PASSWORD_ALPHABET.length * Math.floor(256 / PASSWORD_ALPHABET.length);

/**
 * A fresh value for a kind: 'token' = 32 bytes base64url without padding (43 chars), 'password' = 24 chars of
 * [A-Za-z0-9] by rejection sampling (every character equally likely), 'hex32' = 32 bytes as 64 hex digits.
 */
export function generateSecretValue(kind: SecretRequest['kind'], random: RandomBytes = cryptoRandomBytes): Secret {
  switch (kind) {
    case 'token':
      return new Secret(random(32).toString('base64url'));
    case 'hex32':
      return new Secret(random(32).toString('hex'));
    case 'password': {
      let out = '';
      while (out.length < PASSWORD_LENGTH) {
        // 32 bytes give 24 accepted ones with probability > 99.9 %; the loop draws more when they do not.
        for (const b of random(32)) {
          if (b >= PASSWORD_BYTE_LIMIT) continue;
          out += PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length];
          if (out.length === PASSWORD_LENGTH) break;
        }
      }
      return new Secret(out);
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown secret kind ${String(never)}`);
    }
  }
}

/** What the renderer may see of a secret (contract `SecretSummary`). */
export interface SecretSummaryView {
  readonly name: string;
  readonly masked: string;
  readonly set: boolean;
}

/** One profile's secrets, for code that works on one server (post-install configuration). */
export interface ProfileSecrets {
  readonly profileId: string;
  get(name: string): Promise<Secret | undefined>;
  /** The value for `request`, generated and stored first when it is missing and generated. */
  ensureOne(request: SecretRequest): Promise<Secret | undefined>;
  set(name: string, value: Secret): Promise<void>;
  delete(name: string): Promise<boolean>;
}

export class StackSecrets {
  readonly #store: SecretStore;
  readonly #random: RandomBytes;
  /** The tail of each profile's queue: keychain reads and writes for one profile run one at a time. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(store: SecretStore, random: RandomBytes = cryptoRandomBytes) {
    this.#store = store;
    this.#random = random;
  }

  /**
   * Run `op` after every earlier operation on the same profile, so two `ensure()` calls at once cannot both
   * see a secret missing and store two different values.
   */
  #serial<T>(profileId: string, op: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(profileId) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(profileId, tail);
    void tail.then(() => {
      if (this.#queues.get(profileId) === tail) this.#queues.delete(profileId);
    });
    return run;
  }

  /**
   * Every requested secret that exists, creating the missing generated ones. An existing value is never replaced;
   * a missing secret the app cannot generate (e.g. the Cloudflare tunnel token) is simply absent from the map.
   */
  ensure(profileId: string, requests: readonly SecretRequest[]): Promise<Map<string, Secret>> {
    return this.#serial(profileId, async () => {
      const out = new Map<string, Secret>();
      for (const req of dedupe(requests)) {
        let value = await this.#store.get(profileId, req.name);
        if (value === undefined && req.generated) {
          value = generateSecretValue(req.kind, this.#random);
          await this.#store.set(profileId, req.name, value);
        }
        if (value !== undefined) out.set(req.name, value);
      }
      return out;
    });
  }

  /** Which requested secrets are set, masked, for the renderer; nothing is generated. */
  summaries(profileId: string, requests: readonly SecretRequest[]): Promise<SecretSummaryView[]> {
    return this.#serial(profileId, async () => {
      const out: SecretSummaryView[] = [];
      for (const req of dedupe(requests)) {
        const set = (await this.#store.get(profileId, req.name)) !== undefined;
        out.push({ name: req.name, masked: set ? secretMask : '', set });
      }
      return out;
    });
  }

  get(profileId: string, name: string): Promise<Secret | undefined> {
    return this.#serial(profileId, () => this.#store.get(profileId, name));
  }

  /** Keep a value the app obtained later (the Jellyfin API key, the Cloudflare tunnel token). */
  set(profileId: string, name: string, value: Secret): Promise<void> {
    return this.#serial(profileId, () => this.#store.set(profileId, name, value));
  }

  delete(profileId: string, name: string): Promise<boolean> {
    return this.#serial(profileId, () => this.#store.delete(profileId, name));
  }

  /** This store bound to one profile. */
  forProfile(profileId: string): ProfileSecrets {
    return {
      profileId,
      get: (name) => this.get(profileId, name),
      ensureOne: async (request) => (await this.ensure(profileId, [request])).get(request.name),
      set: (name, value) => this.set(profileId, name, value),
      delete: (name) => this.delete(profileId, name),
    };
  }
}

/** The first request per name, in order (two modules may ask for the same secret). */
function dedupe(requests: readonly SecretRequest[]): SecretRequest[] {
  const seen = new Set<string>();
  return requests.filter((r) => (seen.has(r.name) ? false : (seen.add(r.name), true)));
}
