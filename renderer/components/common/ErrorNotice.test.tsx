import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { ErrorShape } from '../../../electron/contract/errors';
import { asShape } from '../../hooks/use-call';
import { M2Error } from '../../m2';
import { ErrorNotice } from './ErrorNotice';

// The refusal of an install while a secret rotation is unfinished, as main sends it (core's rotation.test.ts asserts
// these words). Review and Install both catch a failed call with asShape and show it in an ErrorNotice.
const unfinished: ErrorShape = {
  code: 'accounts.rotation-unfinished',
  userMessage:
    'Install: the rotation of Authentik’s database password did not finish, and the server may still expect its new value. Installing now would write the old value back and could stop authentik-db, authentik-db-dump, authentik-server, authentik-worker.',
  hint: 'Finish the rotation in Settings → Secrets → Rotation first (“Finish the rotation” uses the same new value), then install.',
};

describe('an error on the Review and Install steps', () => {
  it('an install refused during an unfinished rotation reads as what happened (which secret), then what to do, as an alert', () => {
    const html = renderToStaticMarkup(<ErrorNotice error={asShape(new M2Error(unfinished))} />);
    expect(html).toMatch(/^<div role="alert"/);
    const text = html
      .replace(/<[^>]+>/g, '\n')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    expect(text).toEqual([unfinished.userMessage, unfinished.hint]);
    expect(text[0]).toContain('Authentik’s database password');
    expect(text[1]).toMatch(/^Finish the rotation in Settings → Secrets → Rotation first/);
  });
});
