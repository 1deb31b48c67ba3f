// Shared set-up for the Node conformance tests: the emulator's coordinates (from run.sh's environment),
// official SDK clients, the dev outbox, and small assertion helpers. Everything stays on loopback.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import DescopeClient from '@descope/node-sdk';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function requiredEnv(name) {
  const value = (process.env[name] ?? '').trim();
  if (!value) {
    // Failing (not skipping) keeps a misconfigured run from passing with zero assertions.
    throw new Error(`${name} is not set; run the suite through end2end/sdk-conformance/run.sh`);
  }
  return value;
}

export const emulator = (() => {
  const baseUrl = requiredEnv('CONFORMANCE_BASE_URL').replace(/\/+$/, '');
  const { hostname } = new URL(baseUrl);
  if (!LOOPBACK_HOSTS.has(hostname)) throw new Error(`refusing to run against non-loopback ${baseUrl}`);
  return {
    baseUrl,
    projectId: requiredEnv('CONFORMANCE_PROJECT_ID'),
    managementKey: requiredEnv('CONFORMANCE_MANAGEMENT_KEY'),
    maxAttempts: Number(process.env.CONFORMANCE_MAX_ATTEMPTS ?? 5),
    rateLimitMax: Number(process.env.CONFORMANCE_RATE_LIMIT_MAX ?? 5),
    rateLimitWindowSecs: Number(process.env.CONFORMANCE_RATE_LIMIT_WINDOW_SECS ?? 60),
  };
})();

export const sdk = DescopeClient({ projectId: emulator.projectId, baseUrl: emulator.baseUrl });

export function managementSdk(managementKey = emulator.managementKey) {
  return DescopeClient({ projectId: emulator.projectId, baseUrl: emulator.baseUrl, managementKey });
}

export const METHODS = ['email', 'sms', 'voice', 'whatsapp'];

// Addresses are unique by construction, never by chance. `node --test` runs each test file in a
// process of its own, all against one emulator (which the Python suite used before, with "py-"
// emails and area code 212): so every address carries the file's number (its place among the
// suite's files, the same on every run) and a counter of this process.
const TEST_FILES = readdirSync(new URL('../test/', import.meta.url))
  .filter((name) => name.endsWith('.test.mjs'))
  .sort();
const FILE_NUMBER = TEST_FILES.indexOf(basename(process.argv[1] ?? ''));
if (FILE_NUMBER < 0) {
  throw new Error(`the harness numbers addresses by test file; ${process.argv[1]} is not one of test/*.test.mjs`);
}
let counter = 0;
const nextNumber = () => {
  counter += 1;
  return counter;
};

/** `tag` plus a suffix no other call in this suite run returns. */
export const unique = (tag) => `${tag}-f${FILE_NUMBER}-${nextNumber()}`;
export const newEmail = (tag) => `node-${unique(tag)}@example.com`;
/** A North American number (+1 312 NXX XXXX: the exchange is the file, the line the counter). */
export const newPhone = () => {
  const line = nextNumber();
  if (line > 9999 || FILE_NUMBER > 799) throw new Error('newPhone: out of numbers for this test file');
  return `+1312${200 + FILE_NUMBER}${String(line).padStart(4, '0')}`;
};
export const newLoginId = (method, tag) => (method === 'email' ? newEmail(tag) : newPhone());

/** A code of the same shape that is certainly not `code`. */
export const wrongCode = (code) => code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));

async function getJson(path, params, timeoutMs) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  const response = await fetch(`${emulator.baseUrl}${path}?${query}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

export const outbox = {
  /** Long-poll for the newest message to `destination` newer than `after` (bounded by timeoutMs). */
  async wait(destination, { after, loginId, timeoutMs = 5000 } = {}) {
    const { status, body } = await getJson(
      '/emulator/outbox/wait',
      { destination, loginId, after, timeoutMs },
      timeoutMs + 5000,
    );
    if (status === 408) throw new Error(`no message to ${destination} after id ${after} within ${timeoutMs} ms`);
    assert.equal(status, 200, `outbox wait answered ${status}: ${JSON.stringify(body)}`);
    assert.ok(body && typeof body.code === 'string', `outbox wait body is not a message: ${JSON.stringify(body)}`);
    return body;
  },
  async messages({ destination, loginId } = {}) {
    const { status, body } = await getJson('/emulator/outbox', { destination, loginId }, 5000);
    assert.equal(status, 200, `outbox list answered ${status}: ${JSON.stringify(body)}`);
    return body.messages;
  },
};

/** Assert an SdkResponse succeeded, showing the emulator's error if not, and return its data. */
export function ok(response, what = 'call') {
  assert.ok(response.ok, `${what} failed: ${response.code} ${JSON.stringify(response.error)}`);
  return response.data;
}

/** Assert an SdkResponse failed with `errorCode` and return it. */
export function failsWith(response, errorCode, what = 'call') {
  assert.equal(response.ok, false, `${what} unexpectedly succeeded: ${JSON.stringify(response.data)}`);
  assert.equal(response.error?.errorCode, errorCode, `${what}: ${response.code} ${JSON.stringify(response.error)}`);
  return response;
}

export function assertMasked(masked, address) {
  assert.equal(typeof masked, 'string');
  assert.ok(masked.length > 0, 'masked address is empty');
  assert.ok(!masked.includes(address), `masked address ${masked} leaks ${address}`);
  if (address.includes('@')) assert.ok(masked.includes('@'), `masked email ${masked} is not email-shaped`);
}

/** Claims every session JWT must carry for the SDKs (src/descope/API.md §5). */
export function assertSessionClaims(token, userId) {
  assert.equal(token.drn, 'DS');
  // The Node SDK has already checked iss and rewritten it to the project id.
  assert.equal(token.iss, emulator.projectId);
  assert.equal(typeof token.sub, 'string');
  if (userId !== undefined) assert.equal(token.sub, userId);
  assert.ok(token.exp > token.iat, `exp ${token.exp} <= iat ${token.iat}`);
  assert.ok(token.aud === undefined || token.aud === emulator.projectId, `aud ${token.aud}`);
  assert.ok(Array.isArray(token.amr) && token.amr.length > 0, `amr ${JSON.stringify(token.amr)}`);
}

/** Sign a brand-new user up and verify the outbox code; returns the verify data plus bookkeeping. */
export async function signUp(method = 'email', tag = 'user', { user, signUpOptions } = {}) {
  const loginId = newLoginId(method, tag);
  ok(await sdk.otp.signUp[method](loginId, user, signUpOptions), `signUp.${method}`);
  const message = await outbox.wait(loginId);
  const data = ok(await sdk.otp.verify[method](loginId, message.code), `verify.${method}`);
  return { method, loginId, data, userId: data.user.userId, lastMessageId: message.id };
}

/** Sign an existing user in again (an independent second session); returns the verify data. */
export async function signIn(account, loginOptions, refreshToken) {
  ok(await sdk.otp.signIn[account.method](account.loginId, loginOptions, refreshToken), `signIn.${account.method}`);
  const message = await outbox.wait(account.loginId, { after: account.lastMessageId });
  account.lastMessageId = message.id;
  return ok(await sdk.otp.verify[account.method](account.loginId, message.code), `verify.${account.method}`);
}
