// Sign-up, sign-in and sign-up-or-in through the official Node SDK, for every delivery method.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  METHODS, sdk, outbox, ok, failsWith, signUp, signIn, newEmail, newLoginId, unique, assertMasked, assertSessionClaims,
} from '../lib/harness.mjs';

// amr values src/descope/API.md §5 lists per channel; voice's value is unconfirmed, so it only has to be non-empty.
const CONFIRMED_AMR = { email: 'email', sms: 'sms', whatsapp: 'whatsapp' };

for (const method of METHODS) {
  test(`sign-up over ${method} then the outbox code then verify signs the user in`, async () => {
    const loginId = newLoginId(method, `signup-${method}`);
    const name = `Node ${method} Tester`;

    // Node sends only loginId + user (no top-level email/phone): the emulator must key on loginId.
    const masked = ok(await sdk.otp.signUp[method](loginId, { name }), `signUp.${method}`);
    assertMasked(method === 'email' ? masked.maskedEmail : masked.maskedPhone, loginId);

    const message = await outbox.wait(loginId);
    assert.equal(message.destination, loginId);
    assert.equal(message.loginId, loginId);
    assert.equal(message.channel, method);
    assert.match(message.code, /^\d{6}$/);

    const data = ok(await sdk.otp.verify[method](loginId, message.code), `verify.${method}`);
    assert.equal(data.firstSeen, true);
    assert.ok(data.user.loginIds.includes(loginId));
    assert.equal(data.user.name, name);
    if (method === 'email') {
      assert.equal(data.user.email, loginId);
      assert.equal(data.user.verifiedEmail, true);
    } else {
      assert.equal(data.user.phone, loginId);
      assert.equal(data.user.verifiedPhone, true);
    }
    // Integer seconds (Go decodes these as int32; milliseconds would overflow).
    const now = Date.now() / 1000;
    assert.ok(Number.isInteger(data.user.createdTime) && Math.abs(data.user.createdTime - now) < 120, `createdTime ${data.user.createdTime}`);
    assert.equal(data.user.status, 'enabled');
    assert.equal(data.user.test, false);
    assert.ok(Number.isInteger(data.cookieMaxAge) && data.cookieMaxAge > 0, `cookieMaxAge ${data.cookieMaxAge}`);
    assert.ok(Number.isInteger(data.cookieExpiration) && data.cookieExpiration > now && data.cookieExpiration < 2 ** 31);
    assert.equal(typeof data.refreshJwt, 'string');
    assert.ok(data.cookies.some((c) => c.startsWith(`DSR=${data.refreshJwt};`)), JSON.stringify(data.cookies));

    const session = await sdk.validateSession(data.sessionJwt);
    assertSessionClaims(session.token, data.user.userId);
    if (CONFIRMED_AMR[method]) assert.ok(session.token.amr.includes(CONFIRMED_AMR[method]), session.token.amr);
    const refresh = await sdk.validateJwt(data.refreshJwt);
    assert.equal(refresh.token.drn, 'DSR');
    assert.equal(refresh.token.sub, data.user.userId);
    assert.ok(refresh.token.exp > session.token.exp, 'refresh token should outlive the session token');
  });
}

for (const method of ['email', 'sms']) {
  test(`an existing ${method} user signs in with a fresh code`, async () => {
    const account = await signUp(method, `signin-${method}`);
    const masked = ok(await sdk.otp.signIn[method](account.loginId), `signIn.${method}`);
    assertMasked(method === 'email' ? masked.maskedEmail : masked.maskedPhone, account.loginId);
    const message = await outbox.wait(account.loginId, { after: account.lastMessageId });
    assert.notEqual(message.id, account.lastMessageId);
    const data = ok(await sdk.otp.verify[method](account.loginId, message.code));
    assert.equal(data.firstSeen, false);
    assert.equal(data.user.userId, account.userId);
  });
}

for (const method of ['email', 'sms']) {
  test(`sign-up over ${method} with a username login id delivers to the address in the user details`, async () => {
    // Node sends only {loginId, user}: the address can only come from user.email / user.phone.
    // Descope's SDK docs: the delivery information goes "either in the optional details parameter
    // or as the loginId itself".
    const loginId = unique(`node-username-${method}`);
    const address = newLoginId(method, 'username-address');
    const field = method === 'email' ? 'email' : 'phone';

    ok(await sdk.otp.signUp[method](loginId, { [field]: address, name: 'User Name' }), `signUp.${method}`);
    const message = await outbox.wait(address);
    assert.equal(message.loginId, loginId);
    const data = ok(await sdk.otp.verify[method](loginId, message.code), `verify.${method}`);
    assert.deepEqual(data.user.loginIds, [loginId]);
    assert.equal(data.user[field], address);

    ok(await sdk.otp.signIn[method](loginId), `signIn.${method} by username`);
    const again = await outbox.wait(address, { after: message.id });
    assert.equal(ok(await sdk.otp.verify[method](loginId, again.code)).user.userId, data.user.userId);
  });
}

test('sign-in of an unknown user is rejected with user-not-found', async () => {
  failsWith(await sdk.otp.signIn.email(newEmail('nobody')), 'E062108', 'signIn.email');
});

test('sign-up of an existing user is rejected with user-already-exists', async () => {
  const account = await signUp('email', 'dup');
  failsWith(await sdk.otp.signUp.email(account.loginId), 'E062107', 'signUp.email');
});

test('sign-up-or-in creates a new user, then signs the same user in', async () => {
  const loginId = newEmail('upin');
  assertMasked(ok(await sdk.otp.signUpOrIn.email(loginId)).maskedEmail, loginId);
  const first = await outbox.wait(loginId);
  const created = ok(await sdk.otp.verify.email(loginId, first.code));
  assert.equal(created.firstSeen, true);

  assertMasked(ok(await sdk.otp.signUpOrIn.email(loginId)).maskedEmail, loginId);
  const second = await outbox.wait(loginId, { after: first.id });
  const existing = ok(await sdk.otp.verify.email(loginId, second.code));
  assert.equal(existing.firstSeen, false);
  assert.equal(existing.user.userId, created.user.userId);
});

for (const method of ['voice', 'whatsapp']) {
  test(`sign-up-or-in works over ${method}`, async () => {
    const loginId = newLoginId(method, 'upin-phone');
    assertMasked(ok(await sdk.otp.signUpOrIn[method](loginId)).maskedPhone, loginId);
    const message = await outbox.wait(loginId);
    assert.equal(message.channel, method);
    const data = ok(await sdk.otp.verify[method](loginId, message.code));
    assert.equal(data.firstSeen, true);
    assert.equal(data.user.phone, loginId);
  });
}

test('custom claims given to sign-up-or-in land in the session token', async () => {
  const loginId = newEmail('upin-claims');
  ok(await sdk.otp.signUpOrIn.email(loginId, { customClaims: { team: 'blue', level: 4 } }));
  const message = await outbox.wait(loginId);
  const data = ok(await sdk.otp.verify.email(loginId, message.code));
  const { token } = await sdk.validateSession(data.sessionJwt);
  assert.equal(token.team, 'blue');
  assert.equal(token.level, 4);
});

test('sign-in with stepup and the refresh token gives a session with su: true', async () => {
  const account = await signUp('email', 'stepup');
  const before = await sdk.validateSession(account.data.sessionJwt);
  assert.notEqual(before.token.su, true);

  const data = await signIn(account, { stepup: true }, account.data.refreshJwt);
  const { token } = await sdk.validateSession(data.sessionJwt);
  assert.equal(token.su, true);
  assert.equal(token.sub, account.userId);
});

test('sign-in with stepup but no refresh token is refused and sends nothing', async () => {
  const account = await signUp('email', 'stepup-no-token');
  const refused = await sdk.otp.signIn.email(account.loginId, { stepup: true });
  assert.equal(refused.ok, false, 'stepup without a refresh token was accepted');
  assert.ok(refused.code >= 400 && refused.code < 500, `status ${refused.code}`);
  assert.ok(refused.error?.errorCode);
  assert.equal((await outbox.messages({ destination: account.loginId })).length, 1);
});

test('custom claims from sign-up options land in the session token', async () => {
  const account = await signUp('email', 'claims-up', { signUpOptions: { customClaims: { plan: 'gold', seats: 3 } } });
  const { token } = await sdk.validateSession(account.data.sessionJwt);
  assert.equal(token.plan, 'gold');
  assert.equal(token.seats, 3);
});

test('custom claims from sign-in options land in the session token', async () => {
  const account = await signUp('sms', 'claims-in');
  const data = await signIn(account, { customClaims: { tier: 'platinum', flags: ['a', 'b'] } });
  const { token } = await sdk.validateSession(data.sessionJwt);
  assert.equal(token.tier, 'platinum');
  assert.deepEqual(token.flags, ['a', 'b']);
});
