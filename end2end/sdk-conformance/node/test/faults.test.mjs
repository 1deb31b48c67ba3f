// Injected faults and key rotation, as the Node SDK meets them, on a third emulator started with
// --allow-faults (so a fault or a retired key here never reaches another test).
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import DescopeClient from '@descope/node-sdk';
import { emulator, ok, failsWith, newEmail } from '../lib/harness.mjs';

const FAULTS_URL = (process.env.CONFORMANCE_FAULTS_BASE_URL ?? '').replace(/\/+$/, '');
const skip = FAULTS_URL ? false : 'the emulator has no --allow-faults';

const newClient = () => DescopeClient({ projectId: emulator.projectId, baseUrl: FAULTS_URL });
const faultsSdk = FAULTS_URL ? newClient() : undefined;

async function emulatorCall(method, path, body) {
  const response = await fetch(`${FAULTS_URL}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  assert.ok([200, 201].includes(response.status), `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const addFault = (fault) => emulatorCall('POST', '/emulator/faults', fault);
const activeFaults = async () => (await emulatorCall('GET', '/emulator/faults')).faults;
const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid;

async function codeFor(loginId, after) {
  const query = new URLSearchParams({ destination: loginId, timeoutMs: '5000', ...(after ? { after: String(after) } : {}) });
  const response = await fetch(`${FAULTS_URL}/emulator/outbox/wait?${query}`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, `no message to ${loginId}`);
  return response.json();
}

async function signedUp(tag) {
  const loginId = newEmail(tag);
  ok(await faultsSdk.otp.signUpOrIn.email(loginId), 'signUpOrIn');
  const message = await codeFor(loginId);
  const data = ok(await faultsSdk.otp.verify.email(loginId, message.code), 'verify');
  return { loginId, data, messageId: message.id };
}

if (FAULTS_URL) {
  beforeEach(() => emulatorCall('DELETE', '/emulator/faults'));
  afterEach(() => emulatorCall('DELETE', '/emulator/faults'));
}

test('an injected error reaches the SDK with its status and code, for as many calls as asked', { skip }, async () => {
  await addFault({ path: '/v1/auth/otp/signup-in/', status: 500, errorCode: 'E000000', times: 2 });
  for (let i = 0; i < 2; i += 1) {
    const refused = failsWith(await faultsSdk.otp.signUpOrIn.email(newEmail('fault-500')), 'E000000', `call ${i + 1}`);
    assert.equal(refused.code, 500);
  }
  assert.deepEqual(await activeFaults(), []);
  ok(await faultsSdk.otp.signUpOrIn.email(newEmail('fault-500-after')), 'the call after the fault');
});

test('the SDK retries an injected 503 and gets through', { skip }, async () => {
  // core-js (2.71) retries 503 after 0.1 s (then 5 s, 5 s), as Python does: one injected 503
  // costs it one quick retry.
  const loginId = newEmail('fault-503');
  await addFault({ path: '/v1/auth/otp/signup-in/', status: 503, errorCode: 'E000000', times: 1 });
  ok(await faultsSdk.otp.signUpOrIn.email(loginId), 'signUpOrIn through one 503');
  assert.deepEqual(await activeFaults(), []);
  assert.equal((await codeFor(loginId)).loginId, loginId);
});

test('a dropped connection fails the call and the next call works', { skip }, async () => {
  const { loginId, data } = await signedUp('fault-drop');
  await addFault({ path: '/v1/auth/me', status: 0, times: 1 });
  // No answer at all: the SDK either rejects or reports a failure without a Descope error body.
  const dropped = await faultsSdk.me(data.refreshJwt).then(
    (response) => response,
    (error) => ({ ok: false, thrown: error }),
  );
  assert.equal(dropped.ok, false, 'a dropped connection was taken for an answer');
  assert.equal(dropped.error?.errorCode, undefined, JSON.stringify(dropped.error));
  assert.deepEqual(ok(await faultsSdk.me(data.refreshJwt), 'me after the fault').loginIds, [loginId]);
});

test('a delayed answer arrives late and whole', { skip }, async () => {
  const { data } = await signedUp('fault-delay');
  await addFault({ path: '/v1/auth/refresh', delayMs: 600, times: 1 });
  const started = performance.now();
  const refreshed = await faultsSdk.refreshSession(data.refreshJwt);
  assert.ok(performance.now() - started >= 600, `answered after ${performance.now() - started} ms`);
  assert.equal(refreshed.token.sub, data.user.userId);
});

test('after a key rotation the SDK validates tokens of the new key and of the old one until retired', { skip }, async () => {
  const { loginId, data: before, messageId } = await signedUp('rotate');
  const oldKid = kidOf(before.sessionJwt);
  assert.equal((await faultsSdk.validateSession(before.sessionJwt)).token.sub, before.user.userId);

  const { kid: newKid } = await emulatorCall('POST', '/emulator/keys/rotate', {});
  assert.notEqual(newKid, oldKid);
  ok(await faultsSdk.otp.signIn.email(loginId), 'signIn after the rotation');
  const message = await codeFor(loginId, messageId);
  const after = ok(await faultsSdk.otp.verify.email(loginId, message.code), 'verify after the rotation');

  // The SDK met a kid it had not cached, fetched the keys again, and accepted the new token.
  assert.equal(kidOf(after.sessionJwt), newKid);
  assert.equal((await faultsSdk.validateSession(after.sessionJwt)).token.sub, after.user.userId);
  // The old key is still published: a client that never saw it validates the old token too.
  assert.equal((await newClient().validateSession(before.sessionJwt)).token.sub, before.user.userId);

  await emulatorCall('POST', '/emulator/keys/rotate', { retireOld: true });
  await assert.rejects(newClient().validateSession(before.sessionJwt), /session validation failed/);
  // The emulator no longer accepts what the retired keys signed either.
  const refused = await faultsSdk.refresh(before.refreshJwt);
  assert.equal(refused.code, 401, JSON.stringify(refused.error));
});
