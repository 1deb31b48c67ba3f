// Wrong codes, attempt limits and the per-recipient message cap, as the Node SDK surfaces them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emulator, sdk, outbox, ok, failsWith, newEmail, wrongCode } from '../lib/harness.mjs';

test('a wrong code is rejected with E061102 and the right code still works', async () => {
  const loginId = newEmail('wrong');
  ok(await sdk.otp.signUp.email(loginId));
  const { code } = await outbox.wait(loginId);

  const rejected = failsWith(await sdk.otp.verify.email(loginId, wrongCode(code)), 'E061102', 'verify wrong code');
  assert.ok(rejected.code >= 400 && rejected.code < 500, `status ${rejected.code}`);

  const data = ok(await sdk.otp.verify.email(loginId, code));
  assert.equal(data.firstSeen, true);
});

test('a code works only once', async () => {
  const loginId = newEmail('replay');
  ok(await sdk.otp.signUpOrIn.email(loginId));
  const { code } = await outbox.wait(loginId);
  ok(await sdk.otp.verify.email(loginId, code));
  failsWith(await sdk.otp.verify.email(loginId, code), 'E061102', 'replayed code');
});

test('one wrong code short of the limit still lets the right code in', async () => {
  const loginId = newEmail('attempts-under');
  ok(await sdk.otp.signUp.email(loginId));
  const { code } = await outbox.wait(loginId);
  for (let attempt = 1; attempt < emulator.maxAttempts; attempt += 1) {
    failsWith(await sdk.otp.verify.email(loginId, wrongCode(code)), 'E061102', `wrong attempt ${attempt}`);
  }
  assert.equal(ok(await sdk.otp.verify.email(loginId, code)).firstSeen, true);
});

test('too many wrong codes give E061103 and burn the code', async () => {
  const loginId = newEmail('attempts');
  ok(await sdk.otp.signUp.email(loginId));
  const message = await outbox.wait(loginId);

  for (let attempt = 1; attempt < emulator.maxAttempts; attempt += 1) {
    failsWith(await sdk.otp.verify.email(loginId, wrongCode(message.code)), 'E061102', `wrong attempt ${attempt}`);
  }
  // The contract ("N wrong attempts per code, then E061103") leaves open whether the N-th wrong
  // attempt itself reports E061102 or already E061103; either way it is refused.
  const last = await sdk.otp.verify.email(loginId, wrongCode(message.code));
  assert.equal(last.ok, false);
  assert.ok(['E061102', 'E061103'].includes(last.error?.errorCode), JSON.stringify(last.error));

  // The limit is reached: even the right code is refused now, and stays refused.
  for (let i = 0; i < 2; i += 1) {
    failsWith(await sdk.otp.verify.email(loginId, message.code), 'E061103', 'verify after the limit');
  }

  // A burned code does not lock the login id out: a newly requested code works. (Sign-up-or-in,
  // because whether a sign-up that was never verified already created the user is not specified.)
  ok(await sdk.otp.signUpOrIn.email(loginId));
  const fresh = await outbox.wait(loginId, { after: message.id });
  const data = ok(await sdk.otp.verify.email(loginId, fresh.code));
  assert.ok(data.user.loginIds.includes(loginId));
});

test('a new code replaces the previous one', async () => {
  const loginId = newEmail('reissue');
  ok(await sdk.otp.signUpOrIn.email(loginId));
  const first = await outbox.wait(loginId);
  ok(await sdk.otp.signUpOrIn.email(loginId));
  const second = await outbox.wait(loginId, { after: first.id });
  // The emulator never hands out the code it voids again, so the old one is certainly refused.
  assert.notEqual(second.code, first.code);
  failsWith(await sdk.otp.verify.email(loginId, first.code), 'E061102', 'verify superseded code');
  ok(await sdk.otp.verify.email(loginId, second.code));
});

test('the message cap per recipient gives 429 with Retry-After', async () => {
  const loginId = newEmail('ratelimit');
  for (let i = 0; i < emulator.rateLimitMax; i += 1) ok(await sdk.otp.signUpOrIn.email(loginId), `send ${i + 1}`);

  const limited = failsWith(await sdk.otp.signUpOrIn.email(loginId), 'E130429', 'send over the cap');
  assert.equal(limited.code, 429);
  assert.equal(typeof limited.error.retryAfter, 'number');
  assert.ok(
    limited.error.retryAfter >= 1 && limited.error.retryAfter <= emulator.rateLimitWindowSecs,
    `retryAfter ${limited.error.retryAfter}`,
  );

  // The refused request sent nothing, and the cap is per recipient: someone else is unaffected.
  assert.equal((await outbox.messages({ destination: loginId })).length, emulator.rateLimitMax);
  const other = newEmail('ratelimit-other');
  ok(await sdk.otp.signUpOrIn.email(other));
  assert.equal((await outbox.wait(other)).destination, other);
});
