import type { M2Api } from '../electron/contract/client';

declare global {
  interface Window {
    /** The one bridge to main (or the web host), typed from the contract. */
    readonly m2: M2Api;
  }
}
