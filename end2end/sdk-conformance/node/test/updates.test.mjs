// Updating a signed-in user's email or phone through OTP, through the Node SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdk, outbox, ok, signUp, newEmail, newPhone, assertMasked } from '../lib/harness.mjs';

test('update email then verify makes the new email the verified email', async () => {
  const account = await signUp('email', 'upd-email');
  const newAddress = newEmail('upd-email-new');

  const masked = ok(await sdk.otp.update.email(account.loginId, newAddress, account.data.refreshJwt), 'update.email');
  assertMasked(masked.maskedEmail, newAddress);
  const message = await outbox.wait(newAddress);
  assert.equal(message.channel, 'email');

  const data = ok(await sdk.otp.verify.email(account.loginId, message.code), 'verify.email');
  assert.equal(data.user.userId, account.userId);

  const me = ok(await sdk.me(data.refreshJwt), 'me');
  assert.equal(me.email, newAddress);
  assert.equal(me.verifiedEmail, true);
  assert.ok(me.loginIds.includes(account.loginId));
});

test('update email with addToLoginIDs lets the user sign in with the new email', async () => {
  const account = await signUp('sms', 'upd-addlogin');
  const newAddress = newEmail('upd-addlogin-new');

  ok(await sdk.otp.update.email(account.loginId, newAddress, account.data.refreshJwt, { addToLoginIDs: true }));
  const updateMessage = await outbox.wait(newAddress);
  const data = ok(await sdk.otp.verify.email(account.loginId, updateMessage.code));
  const me = ok(await sdk.me(data.refreshJwt), 'me');
  assert.ok(me.loginIds.includes(account.loginId) && me.loginIds.includes(newAddress), JSON.stringify(me.loginIds));
  assert.equal(me.email, newAddress);

  ok(await sdk.otp.signIn.email(newAddress), 'sign-in with the added login id');
  const message = await outbox.wait(newAddress, { after: updateMessage.id });
  const signedIn = ok(await sdk.otp.verify.email(newAddress, message.code));
  assert.equal(signedIn.user.userId, account.userId);
  assert.equal(signedIn.firstSeen, false);
});

for (const [userMethod, updateMethod] of [['sms', 'sms'], ['email', 'voice']]) {
  test(`update phone over ${updateMethod} (for a ${userMethod} user) then verify makes it the verified phone`, async () => {
    const account = await signUp(userMethod, `upd-phone-${updateMethod}`);
    const newNumber = newPhone();

    const masked = ok(
      await sdk.otp.update.phone[updateMethod](account.loginId, newNumber, account.data.refreshJwt),
      `update.phone.${updateMethod}`,
    );
    assertMasked(masked.maskedPhone, newNumber);
    const message = await outbox.wait(newNumber);
    assert.equal(message.channel, updateMethod);

    const data = ok(await sdk.otp.verify[updateMethod](account.loginId, message.code), `verify.${updateMethod}`);
    assert.equal(data.user.userId, account.userId);

    const me = ok(await sdk.me(data.refreshJwt), 'me');
    assert.equal(me.phone, newNumber);
    assert.equal(me.verifiedPhone, true);
  });
}

test('update email with a revoked refresh token is refused', async () => {
  const account = await signUp('email', 'upd-revoked');
  ok(await sdk.logout(account.data.refreshJwt), 'logout');
  const newAddress = newEmail('upd-revoked-new');
  const refused = await sdk.otp.update.email(account.loginId, newAddress, account.data.refreshJwt);
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 401);
  assert.ok(refused.error?.errorCode);
  assert.deepEqual(await outbox.messages({ destination: newAddress }), []);
});

test('after adding a phone the user signs in over sms with the email login id', async () => {
  // Descope's SDK docs: "The OTP code will be sent to the user identified by loginId via a
  // delivery method of choice" -- the login id picks the user, the method picks the address.
  const account = await signUp('email', 'phone-then-sms');
  const phone = newPhone();
  ok(await sdk.otp.update.phone.sms(account.loginId, phone, account.data.refreshJwt), 'update.phone.sms');
  const added = await outbox.wait(phone);
  ok(await sdk.otp.verify.sms(account.loginId, added.code), 'verify the added phone');

  const masked = ok(await sdk.otp.signIn.sms(account.loginId), 'signIn.sms by email login id');
  assertMasked(masked.maskedPhone, phone);
  const message = await outbox.wait(phone, { after: added.id });
  assert.equal(message.channel, 'sms');
  const data = ok(await sdk.otp.verify.sms(account.loginId, message.code));
  assert.equal(data.user.userId, account.userId);
});

test('after an email update, sign-in codes go to the new email', async () => {
  // The login id (unchanged without addToLoginIDs) picks the user; the code goes to the user's
  // email, which the verified update replaced.
  const account = await signUp('email', 'moved');
  const newAddress = newEmail('moved-new');
  ok(await sdk.otp.update.email(account.loginId, newAddress, account.data.refreshJwt));
  const update = await outbox.wait(newAddress);
  ok(await sdk.otp.verify.email(account.loginId, update.code));

  const masked = ok(await sdk.otp.signIn.email(account.loginId));
  assertMasked(masked.maskedEmail, newAddress);
  const message = await outbox.wait(newAddress, { after: update.id, timeoutMs: 3000 }).catch(async () => {
    const wentTo = (await outbox.messages({ loginId: account.loginId })).filter((m) => m.id > update.id).map((m) => m.destination);
    assert.fail(`the sign-in code did not go to the new email ${newAddress}; it went to ${JSON.stringify(wentTo)}`);
  });
  assert.equal(ok(await sdk.otp.verify.email(account.loginId, message.code)).user.userId, account.userId);
});
