// An app server signs many people in at once: the emulator must keep concurrent flows apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdk, outbox, ok, newLoginId, METHODS } from '../lib/harness.mjs';

test('concurrent sign-up-or-in flows on every channel each get their own code and user', async () => {
  const loginIds = Array.from({ length: 16 }, (_, i) => [METHODS[i % METHODS.length], newLoginId(METHODS[i % METHODS.length], `par${i}`)]);
  const results = await Promise.all(
    loginIds.map(async ([method, loginId]) => {
      ok(await sdk.otp.signUpOrIn[method](loginId), `signUpOrIn.${method} ${loginId}`);
      const message = await outbox.wait(loginId);
      assert.equal(message.loginId, loginId);
      const data = ok(await sdk.otp.verify[method](loginId, message.code), `verify.${method} ${loginId}`);
      const refreshed = await sdk.refreshSession(data.refreshJwt);
      assert.equal(refreshed.token.sub, data.user.userId);
      return data.user.userId;
    }),
  );
  assert.equal(new Set(results).size, loginIds.length, 'two flows ended up as the same user');
});
