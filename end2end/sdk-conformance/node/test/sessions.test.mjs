// Session validation, refresh, me, logout and logout-all through the Node SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdk, ok, signUp, signIn, assertSessionClaims } from '../lib/harness.mjs';

async function assertRefreshRevoked(refreshJwt) {
  await assert.rejects(sdk.refreshSession(refreshJwt), /refresh token validation failed/);
  // The raw call shows what the emulator answered.
  const raw = await sdk.refresh(refreshJwt);
  assert.equal(raw.ok, false, 'refresh of a revoked token succeeded');
  assert.equal(raw.code, 401, JSON.stringify(raw.error));
  assert.ok(raw.error?.errorCode, `no errorCode in ${JSON.stringify(raw.error)}`);
}

test('validateSession accepts the session JWT and exposes its claims', async () => {
  const account = await signUp('email', 'validate');
  const session = await sdk.validateSession(account.data.sessionJwt);
  assert.equal(session.jwt, account.data.sessionJwt);
  assertSessionClaims(session.token, account.userId);
});

test('validateSession rejects a session JWT with a foreign signature', async () => {
  const account = await signUp('email', 'validate-bad');
  const [header, payload] = account.data.sessionJwt.split('.');
  const [, , otherSignature] = account.data.refreshJwt.split('.');
  await assert.rejects(sdk.validateSession(`${header}.${payload}.${otherSignature}`), /session validation failed/);
});

test('refreshSession returns a new session that the SDK validates', async () => {
  const account = await signUp('email', 'refresh');
  const oldSession = await sdk.validateSession(account.data.sessionJwt);
  const refreshed = await sdk.refreshSession(account.data.refreshJwt);

  assertSessionClaims(refreshed.token, account.userId);
  assert.ok(refreshed.token.iat >= oldSession.token.iat);
  const validated = await sdk.validateSession(refreshed.jwt);
  assert.equal(validated.token.sub, account.userId);

  // The refresh token (rotated or not) keeps working.
  const again = await sdk.refreshSession(refreshed.refreshJwt ?? account.data.refreshJwt);
  assert.equal(again.token.sub, account.userId);
});

test('validateAndRefreshSession keeps a valid session', async () => {
  const account = await signUp('email', 'vr-valid');
  const result = await sdk.validateAndRefreshSession(account.data.sessionJwt, account.data.refreshJwt);
  assert.equal(result.jwt, account.data.sessionJwt);
  assert.equal(result.token.sub, account.userId);
});

test('validateAndRefreshSession refreshes a session that fails validation', async () => {
  const account = await signUp('email', 'vr-refresh');
  const result = await sdk.validateAndRefreshSession('not-a-session-jwt', account.data.refreshJwt);
  assertSessionClaims(result.token, account.userId);
  assert.notEqual(result.jwt, 'not-a-session-jwt');
  assert.equal((await sdk.validateSession(result.jwt)).token.sub, account.userId);
});

test('a session JWT is not accepted as a refresh token', async () => {
  const account = await signUp('email', 'drn');
  const refused = await sdk.refresh(account.data.sessionJwt);
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 401, JSON.stringify(refused.error));
  const me = await sdk.me(account.data.sessionJwt);
  assert.equal(me.ok, false);
  assert.equal(me.code, 401);
});

test('me returns the signed-in user profile', async () => {
  const account = await signUp('email', 'me', { user: { name: 'Me Myself' } });
  const me = ok(await sdk.me(account.data.refreshJwt), 'me');
  assert.equal(me.userId, account.userId);
  assert.ok(me.loginIds.includes(account.loginId));
  assert.equal(me.email, account.loginId);
  assert.equal(me.verifiedEmail, true);
  assert.equal(me.name, 'Me Myself');
});

test('logout revokes that refresh token only', async () => {
  const account = await signUp('email', 'logout');
  const other = await signIn(account);

  ok(await sdk.logout(account.data.refreshJwt), 'logout');
  await assertRefreshRevoked(account.data.refreshJwt);
  const me = await sdk.me(account.data.refreshJwt);
  assert.equal(me.ok, false);
  assert.equal(me.code, 401);

  assert.equal((await sdk.refreshSession(other.refreshJwt)).token.sub, account.userId);
});

test('logoutAll revokes every session of the user', async () => {
  const account = await signUp('email', 'logoutall');
  const second = await signIn(account);
  const bystander = await signUp('email', 'logoutall-bystander');

  ok(await sdk.logoutAll(second.refreshJwt), 'logoutAll');
  await assertRefreshRevoked(account.data.refreshJwt);
  await assertRefreshRevoked(second.refreshJwt);
  assert.equal((await sdk.refreshSession(bystander.data.refreshJwt)).token.sub, bystander.userId);
});

test('history and myTenants answer in the shapes the SDK returns', async () => {
  // The emulator keeps no login history and has no tenants; the SDK calls must still work.
  const account = await signUp('email', 'history');
  const history = ok(await sdk.history(account.data.refreshJwt), 'history');
  assert.ok(Array.isArray(history), JSON.stringify(history));
  assert.ok(history.every((entry) => entry.userId === account.userId));
  const tenants = ok(await sdk.myTenants(true, account.data.refreshJwt), 'myTenants');
  assert.ok(Array.isArray(tenants.tenants), JSON.stringify(tenants));

  ok(await sdk.logout(account.data.refreshJwt));
  const refused = await sdk.history(account.data.refreshJwt);
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 401);
});
