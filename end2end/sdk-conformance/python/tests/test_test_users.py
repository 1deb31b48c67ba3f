"""Management test-user APIs (management-key client) through the Python SDK."""

from __future__ import annotations

import pytest
from descope import AuthException, DeliveryMethod

from conftest import error_code, new_email, new_phone


def test_test_user_create_generate_otp_verify_and_delete_all(client, mgmt_client, sign_up):
    regular = sign_up("email", tag="not-a-test-user")
    login_id = new_email("testuser")
    phone = new_phone()

    created = mgmt_client.mgmt.user.create_test_user(login_id, email=login_id, phone=phone, display_name="Test User")
    created_user = created["user"]
    assert login_id in created_user["loginIds"]
    assert created_user["email"] == login_id
    assert created_user["phone"] == phone
    assert created_user["test"] is True

    generated = mgmt_client.mgmt.user.generate_otp_for_test_user(DeliveryMethod.EMAIL, login_id)
    assert generated["loginId"] == login_id
    assert generated["code"]

    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, generated["code"])
    assert auth["user"]["userId"] == created_user["userId"]
    assert auth["userId"] == created_user["userId"]
    me = client.me(auth["refreshSessionToken"]["jwt"])
    assert me["test"] is True
    assert me["verifiedEmail"] is True  # the email OTP just proved it

    mgmt_client.mgmt.user.delete_all_test_users()

    # A deleted user's sessions end with it.
    with pytest.raises(AuthException) as raised:
        client.refresh_session(auth["refreshSessionToken"]["jwt"])
    assert raised.value.status_code == 401

    with pytest.raises(AuthException) as raised:
        client.otp.sign_in(DeliveryMethod.EMAIL, login_id)
    assert error_code(raised.value) == "E062108"
    # Only test users were deleted.
    client.otp.sign_in(DeliveryMethod.EMAIL, regular.login_id)


def test_management_calls_with_a_wrong_key_are_refused(emulator):
    from descope import DescopeClient

    wrong = DescopeClient(
        project_id=emulator.project_id,
        management_key="not-the-management-key",
        base_url=emulator.base_url,
        timeout_seconds=10,
    )
    with pytest.raises(AuthException) as raised:
        wrong.mgmt.user.create_test_user(new_email("wrongkey"))
    assert raised.value.status_code in (401, 403)


def test_generate_otp_is_refused_for_a_user_that_is_not_a_test_user(mgmt_client, sign_up):
    regular = sign_up("email", tag="regular-otp")
    with pytest.raises(AuthException) as raised:
        mgmt_client.mgmt.user.generate_otp_for_test_user(DeliveryMethod.EMAIL, regular.login_id)
    assert 400 <= raised.value.status_code < 500
    assert error_code(raised.value)


@pytest.mark.parametrize("has, asked", [("email", DeliveryMethod.SMS), ("phone", DeliveryMethod.EMAIL)])
def test_a_test_user_gets_no_code_for_a_channel_they_have_no_address_on(has, asked, mgmt_client):
    # An email-only user asked an sms code (and a phone-only one an email code) would otherwise
    # verify it and have the login id stored as an address of the wrong kind, marked verified.
    login_id = new_email("only-email") if has == "email" else new_phone()
    mgmt_client.mgmt.user.create_test_user(login_id, **{has: login_id})

    with pytest.raises(AuthException) as raised:
        mgmt_client.mgmt.user.generate_otp_for_test_user(asked, login_id)
    assert raised.value.status_code == 400
    assert error_code(raised.value) == "E011004"

    user = mgmt_client.mgmt.user.load(login_id)["user"]
    missing = "phone" if has == "email" else "email"
    assert user[missing] == ""
    assert user["verifiedPhone" if missing == "phone" else "verifiedEmail"] is False
    # The channel the user does have an address on still gets a code.
    own = DeliveryMethod.EMAIL if has == "email" else DeliveryMethod.SMS
    assert mgmt_client.mgmt.user.generate_otp_for_test_user(own, login_id)["code"]


def test_a_code_generated_before_delete_all_test_users_is_refused_and_creates_no_user(client, mgmt_client):
    login_id = new_email("deleted-before-verify")
    mgmt_client.mgmt.user.create_test_user(login_id, email=login_id)
    code = mgmt_client.mgmt.user.generate_otp_for_test_user(DeliveryMethod.EMAIL, login_id)["code"]

    mgmt_client.mgmt.user.delete_all_test_users()

    with pytest.raises(AuthException) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    assert error_code(raised.value) == "E061102"
    # No one was created in the deleted user's place.
    with pytest.raises(AuthException) as raised:
        client.otp.sign_in(DeliveryMethod.EMAIL, login_id)
    assert error_code(raised.value) == "E062108"


@pytest.mark.parametrize("flow", ["sign_in", "sign_up_or_in"])
def test_a_deleted_users_pending_code_neither_verifies_nor_recreates_the_user(flow, client, mgmt_client, outbox, sign_up):
    # Verify must never create a user that sign-up did not: the code was sent to an existing user.
    user = sign_up("email", tag=f"deleted-{flow}")
    getattr(client.otp, flow)(DeliveryMethod.EMAIL, user.login_id)
    code = outbox.wait(user.login_id, after=user.last_message_id)["code"]

    mgmt_client.mgmt.user.delete(user.login_id)

    with pytest.raises(AuthException) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, user.login_id, code)
    assert error_code(raised.value) == "E061102"
    with pytest.raises(AuthException) as raised:
        client.otp.sign_in(DeliveryMethod.EMAIL, user.login_id)
    assert error_code(raised.value) == "E062108"
    with pytest.raises(AuthException) as raised:
        client.refresh_session(user.refresh_jwt)
    assert raised.value.status_code == 401
