// An app server signs many people in at once: the emulator must keep concurrent flows apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import DescopeClient from '@descope/node-sdk';
import { emulator, sdk, outbox, ok, signUp, newLoginId, METHODS } from '../lib/harness.mjs';

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

test('requests the client gives up on cost the emulator no data', async () => {
  // Under load, clients time out and hang up mid-request. The emulator's in-memory store must
  // come through it whole: it once lost its tables that way ("no such table: refresh_tokens").
  // (The store's own test replaces the connection outright; this is what an SDK would see.)
  const accounts = [];
  for (let i = 0; i < 4; i += 1) accounts.push(await signUp('email', `impatient${i}`));
  // Clients that give up after 0 to 20 ms: some before the request is sent, some during it.
  const impatient = [0, 1, 2, 5, 10, 20].map((ms) =>
    DescopeClient({
      projectId: emulator.projectId,
      baseUrl: emulator.baseUrl,
      fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(ms) }),
    }),
  );
  await Promise.allSettled(
    Array.from({ length: 64 }, (_, i) => impatient[i % impatient.length].me(accounts[i % accounts.length].data.refreshJwt)),
  );

  for (const account of accounts) {
    assert.equal((await sdk.refreshSession(account.data.refreshJwt)).token.sub, account.userId);
    assert.equal(ok(await sdk.me(account.data.refreshJwt), 'me').userId, account.userId);
  }
  assert.equal((await signUp('sms', 'after-impatience')).data.firstSeen, true);
});
