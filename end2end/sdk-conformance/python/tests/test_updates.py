"""Updating a signed-in user's email or phone through OTP, through the Python SDK."""

from __future__ import annotations

import pytest
from descope import AuthException, DeliveryMethod

from conftest import METHODS, OutboxTimeout, assert_masked, error_code, new_email, new_phone


def test_update_email_then_verify_makes_the_new_email_the_verified_email(client, outbox, sign_up):
    user = sign_up("email", tag="upd-email")
    new_address = new_email("upd-email-new")

    masked = client.otp.update_user_email(user.login_id, new_address, user.refresh_jwt)
    assert_masked(masked, new_address)
    message = outbox.wait(new_address)
    assert message["channel"] == "email"

    auth = client.otp.verify_code(DeliveryMethod.EMAIL, user.login_id, message["code"])
    assert auth["userId"] == user.user_id

    me = client.me(auth["refreshSessionToken"]["jwt"])
    assert me["email"] == new_address
    assert me["verifiedEmail"] is True
    assert user.login_id in me["loginIds"]  # addToLoginIDs was false: the login id is unchanged


def test_update_email_with_add_to_login_ids_lets_the_user_sign_in_with_it(client, outbox, sign_up):
    user = sign_up("sms", tag="upd-addlogin")
    new_address = new_email("upd-addlogin-new")

    client.otp.update_user_email(user.login_id, new_address, user.refresh_jwt, add_to_login_ids=True)
    update_message = outbox.wait(new_address)
    auth = client.otp.verify_code(DeliveryMethod.EMAIL, user.login_id, update_message["code"])
    me = client.me(auth["refreshSessionToken"]["jwt"])
    assert set(me["loginIds"]) >= {user.login_id, new_address}
    assert me["email"] == new_address and me["verifiedEmail"] is True

    client.otp.sign_in(DeliveryMethod.EMAIL, new_address)
    message = outbox.wait(new_address, after=update_message["id"])
    signed_in = client.otp.verify_code(DeliveryMethod.EMAIL, new_address, message["code"])
    assert signed_in["userId"] == user.user_id
    assert signed_in["firstSeen"] is False


@pytest.mark.parametrize("user_method,update_method", [("sms", "sms"), ("email", "whatsapp")])
def test_update_phone_then_verify_makes_the_new_phone_the_verified_phone(
    user_method, update_method, client, outbox, sign_up
):
    user = sign_up(user_method, tag=f"upd-phone-{update_method}")
    new_number = new_phone()

    masked = client.otp.update_user_phone(METHODS[update_method], user.login_id, new_number, user.refresh_jwt)
    assert_masked(masked, new_number)
    message = outbox.wait(new_number)
    assert message["channel"] == update_method

    auth = client.otp.verify_code(METHODS[update_method], user.login_id, message["code"])
    assert auth["userId"] == user.user_id

    me = client.me(auth["refreshSessionToken"]["jwt"])
    assert me["phone"] == new_number
    assert me["verifiedPhone"] is True


def test_update_email_with_a_revoked_refresh_token_is_refused(client, outbox, sign_up):
    user = sign_up("email", tag="upd-revoked")
    client.logout(user.refresh_jwt)
    new_address = new_email("upd-revoked-new")
    with pytest.raises(AuthException) as raised:
        client.otp.update_user_email(user.login_id, new_address, user.refresh_jwt)
    assert raised.value.status_code == 401
    assert error_code(raised.value)
    assert outbox.messages(destination=new_address) == []


def test_after_adding_a_phone_the_user_signs_in_over_sms_with_the_email_login_id(client, outbox, sign_up):
    # Descope's SDK docs: "The OTP code will be sent to the user identified by loginId via a
    # delivery method of choice" -- the login id picks the user, the method picks the address.
    user = sign_up("email", tag="phone-then-sms")
    phone = new_phone()
    client.otp.update_user_phone(DeliveryMethod.SMS, user.login_id, phone, user.refresh_jwt)
    added = outbox.wait(phone)
    client.otp.verify_code(DeliveryMethod.SMS, user.login_id, added["code"])

    masked = client.otp.sign_in(DeliveryMethod.SMS, user.login_id)
    assert_masked(masked, phone)
    message = outbox.wait(phone, after=added["id"])
    assert message["channel"] == "sms"
    auth = client.otp.verify_code(DeliveryMethod.SMS, user.login_id, message["code"])
    assert auth["userId"] == user.user_id
    assert "sms" in auth["sessionToken"]["amr"]


def test_after_an_email_update_sign_in_codes_go_to_the_new_email(client, outbox, sign_up):
    # The login id (unchanged without addToLoginIDs) picks the user; the code goes to the user's
    # email, which the verified update replaced.
    user = sign_up("email", tag="moved")
    new_address = new_email("moved-new")
    client.otp.update_user_email(user.login_id, new_address, user.refresh_jwt)
    update = outbox.wait(new_address)
    client.otp.verify_code(DeliveryMethod.EMAIL, user.login_id, update["code"])

    masked = client.otp.sign_in(DeliveryMethod.EMAIL, user.login_id)
    assert_masked(masked, new_address)
    try:
        message = outbox.wait(new_address, after=update["id"], timeout_ms=3000)
    except OutboxTimeout:
        went_to = [m["destination"] for m in outbox.messages(login_id=user.login_id) if m["id"] > update["id"]]
        pytest.fail(f"the sign-in code did not go to the new email {new_address}; it went to {went_to}")
    assert client.otp.verify_code(DeliveryMethod.EMAIL, user.login_id, message["code"])["userId"] == user.user_id
