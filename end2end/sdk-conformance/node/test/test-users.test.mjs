// Management test-user APIs (management-key client) through the Node SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdk, managementSdk, outbox, ok, failsWith, signUp, newEmail, newPhone } from '../lib/harness.mjs';

test('test user: create, generate OTP, verify, delete all', async () => {
  const mgmt = managementSdk().management;
  const regular = await signUp('email', 'not-a-test-user');
  const loginId = newEmail('testuser');
  const phone = newPhone();

  const created = ok(
    await mgmt.user.createTestUser(loginId, { email: loginId, phone, displayName: 'Test User' }),
    'createTestUser',
  );
  assert.ok(created.loginIds.includes(loginId));
  assert.equal(created.email, loginId);
  assert.equal(created.phone, phone);
  assert.equal(created.test, true);

  const generated = ok(await mgmt.user.generateOTPForTestUser('email', loginId), 'generateOTPForTestUser');
  assert.equal(generated.loginId, loginId);
  assert.ok(generated.code);

  const data = ok(await sdk.otp.verify.email(loginId, generated.code), 'verify test user');
  assert.equal(data.user.userId, created.userId);
  assert.equal((await sdk.validateSession(data.sessionJwt)).token.sub, created.userId);

  const me = ok(await sdk.me(data.refreshJwt), 'me');
  assert.equal(me.test, true);
  assert.equal(me.verifiedEmail, true, 'the email OTP just proved the email');

  ok(await mgmt.user.deleteAllTestUsers(), 'deleteAllTestUsers');
  // A deleted user's sessions end with it.
  const refused = await sdk.refresh(data.refreshJwt);
  assert.equal(refused.ok, false, 'a deleted test user could still refresh');
  assert.equal(refused.code, 401);
  failsWith(await sdk.otp.signIn.email(loginId), 'E062108', 'sign-in of a deleted test user');
  ok(await sdk.otp.signIn.email(regular.loginId), 'sign-in of a regular user after deleteAllTestUsers');
});

test('management calls with a wrong management key are refused', async () => {
  const mgmt = managementSdk('not-the-management-key').management;
  const refused = await mgmt.user.createTestUser(newEmail('wrongkey'));
  assert.equal(refused.ok, false);
  assert.ok([401, 403].includes(refused.code), `status ${refused.code}`);
});

test('generate OTP is refused for a user that is not a test user', async () => {
  const regular = await signUp('email', 'regular-otp');
  const refused = await managementSdk().management.user.generateOTPForTestUser('email', regular.loginId);
  assert.equal(refused.ok, false);
  assert.ok(refused.code >= 400 && refused.code < 500, `status ${refused.code}`);
  assert.ok(refused.error?.errorCode);
});

for (const [has, asked] of [['email', 'sms'], ['phone', 'email']]) {
  test(`a test user with only ${has === 'email' ? 'an email' : 'a phone'} gets no ${asked} code`, async () => {
    // Such a code would otherwise verify and store the login id as an address of the wrong kind,
    // marked verified.
    const mgmt = managementSdk().management;
    const loginId = has === 'email' ? newEmail('only-email') : newPhone();
    ok(await mgmt.user.createTestUser(loginId, { [has]: loginId }), 'createTestUser');

    const refused = failsWith(await mgmt.user.generateOTPForTestUser(asked, loginId), 'E011004', `generate ${asked}`);
    assert.equal(refused.code, 400);

    const user = ok(await mgmt.user.load(loginId), 'load');
    const missing = has === 'email' ? 'phone' : 'email';
    assert.equal(user[missing], '');
    assert.equal(missing === 'phone' ? user.verifiedPhone : user.verifiedEmail, false);
    // The channel the user does have an address on still gets a code.
    const own = has === 'email' ? 'email' : 'sms';
    assert.ok(ok(await mgmt.user.generateOTPForTestUser(own, loginId), `generate ${own}`).code);
  });
}

test('a code generated before deleteAllTestUsers is refused and creates no user', async () => {
  const mgmt = managementSdk().management;
  const loginId = newEmail('deleted-before-verify');
  ok(await mgmt.user.createTestUser(loginId, { email: loginId }), 'createTestUser');
  const { code } = ok(await mgmt.user.generateOTPForTestUser('email', loginId), 'generateOTPForTestUser');

  ok(await mgmt.user.deleteAllTestUsers(), 'deleteAllTestUsers');

  failsWith(await sdk.otp.verify.email(loginId, code), 'E061102', 'verify after the user was deleted');
  // No one was created in the deleted user's place.
  failsWith(await sdk.otp.signIn.email(loginId), 'E062108', 'sign-in after the failed verify');
});

for (const flow of ['signIn', 'signUpOrIn']) {
  test(`a deleted user's pending ${flow} code neither verifies nor recreates the user`, async () => {
    // Verify must never create a user that sign-up did not: the code was sent to an existing user.
    const mgmt = managementSdk().management;
    const account = await signUp('email', `deleted-${flow}`);
    ok(await sdk.otp[flow].email(account.loginId), flow);
    const { code } = await outbox.wait(account.loginId, { after: account.lastMessageId });

    ok(await mgmt.user.delete(account.loginId), 'delete');

    failsWith(await sdk.otp.verify.email(account.loginId, code), 'E061102', 'verify after the user was deleted');
    failsWith(await sdk.otp.signIn.email(account.loginId), 'E062108', 'sign-in after the failed verify');
    const refreshed = await sdk.refresh(account.data.refreshJwt);
    assert.equal(refreshed.code, 401, 'a deleted user could still refresh');
  });
}
