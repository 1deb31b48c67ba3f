// Protocol edges the SDKs rely on: project-id checks and the JWKS shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import DescopeClient from '@descope/node-sdk';
import { emulator, outbox, newEmail } from '../lib/harness.mjs';

test('calls for another project id are refused', async () => {
  const stranger = DescopeClient({ projectId: `P2${'Z'.repeat(26)}`, baseUrl: emulator.baseUrl });
  const loginId = newEmail('other-project');
  const refused = await stranger.otp.signUpOrIn.email(loginId);
  assert.equal(refused.ok, false);
  assert.ok(refused.code >= 400 && refused.code < 500, `status ${refused.code}`);
  assert.ok(refused.error?.errorCode, JSON.stringify(refused.error));
  assert.deepEqual(await outbox.messages({ destination: loginId }), []);
});

test('the JWKS has a kid and alg for every signing key', async () => {
  const response = await fetch(`${emulator.baseUrl}/v2/keys/${emulator.projectId}`);
  assert.equal(response.status, 200);
  const { keys } = await response.json();
  assert.ok(Array.isArray(keys) && keys.length > 0);
  for (const key of keys) {
    assert.ok(key.kid && key.alg, JSON.stringify(key));
    assert.ok(key.use === undefined || key.use === 'sig');
  }
});
