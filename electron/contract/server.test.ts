import { describe, expect, it } from 'vitest';
import { ConnectRequest } from './server';

describe('ConnectRequest', () => {
  it.each([
    ['password', 'Password: at most 1024 characters.'],
    ['passphrase', 'Key passphrase: at most 1024 characters.'],
  ])('a %s longer than the contract carries is named in the admin’s words', (field, message) => {
    const r = ConnectRequest.safeParse({ profileId: 'home', [field]: 'x'.repeat(1025) });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: [field], message });
  });

  it('an empty one is named too, and a long unicode one within the limit is carried as it is', () => {
    expect(ConnectRequest.safeParse({ profileId: 'home', passphrase: '' }).error?.issues[0]?.message).toBe('Key passphrase: enter the key’s passphrase.');
    const typed = `ü"$(x)\`'`.repeat(100);
    expect(ConnectRequest.parse({ profileId: 'home', password: typed }).password).toBe(typed);
  });
});
