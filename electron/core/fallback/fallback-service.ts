/**
 * The outage fallback of each server profile: the switch (fail-closed, idempotent, one at a time), household
 * devices and their keys (private keys in the keychain only), the endpoint, and this computer's own tunnel.
 */
import type { FallbackView } from '../../contract/fallback';
import { AppError } from '../errors';

export class FallbackService {
  async view(profileId: string): Promise<FallbackView> {
    throw new AppError('fallback.not-ready', `The outage fallback is not available for ${profileId} yet.`);
  }
}
