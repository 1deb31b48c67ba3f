"""Sign-up, sign-in and sign-up-or-in through the official Python SDK, for every delivery method."""

from __future__ import annotations

import re
import time

import pytest
from descope import AuthException, DeliveryMethod, SignUpOptions

from conftest import (
    METHODS,
    assert_masked,
    assert_session_claims,
    error_code,
    new_email,
    new_login_id,
    unique,
)

# amr values src/descope/API.md §5 lists per channel; voice's value is unconfirmed, so it is only required to be non-empty.
CONFIRMED_AMR = {"email": "email", "sms": "sms", "whatsapp": "whatsapp"}


@pytest.mark.parametrize("method", list(METHODS))
def test_sign_up_then_outbox_code_then_verify_signs_the_user_in(method, client, outbox, emulator):
    login_id = new_login_id(method, f"signup-{method}")
    name = f"Py {method.title()} Tester"

    masked = client.otp.sign_up(METHODS[method], login_id, {"name": name})
    assert_masked(masked, login_id)

    message = outbox.wait(login_id)
    assert message["destination"] == login_id
    assert message["loginId"] == login_id
    assert message["channel"] == method
    assert re.fullmatch(r"\d{6}", message["code"]), message["code"]

    auth = client.otp.verify_code(METHODS[method], login_id, message["code"])

    assert auth["firstSeen"] is True
    user = auth["user"]
    assert login_id in user["loginIds"]
    assert user["name"] == name
    assert user["userId"] == auth["userId"]
    if method == "email":
        assert user["email"] == login_id
        assert user["verifiedEmail"] is True
    else:
        assert user["phone"] == login_id
        assert user["verifiedPhone"] is True

    session = auth["sessionToken"]
    assert_session_claims(session, emulator, user_id=user["userId"])
    if method in CONFIRMED_AMR:
        assert CONFIRMED_AMR[method] in session["amr"], session["amr"]
    refresh = auth["refreshSessionToken"]
    assert refresh["drn"] == "DSR"
    assert refresh["sub"] == user["userId"]
    assert refresh["exp"] > session["exp"], "refresh token should outlive the session token"
    assert auth["projectId"] == emulator.project_id

    # Integer seconds (Go decodes these as int32; milliseconds would overflow).
    now = time.time()
    assert isinstance(user["createdTime"], int) and now - 120 <= user["createdTime"] <= now + 5
    assert user["status"] == "enabled"
    assert user["test"] is False
    cookie = auth["cookieData"]
    assert isinstance(cookie["maxAge"], int) and cookie["maxAge"] > 0
    assert isinstance(cookie["exp"], int) and now < cookie["exp"] < 2**31
    assert cookie["path"]

    validated = client.validate_session(session["jwt"])
    assert validated["sub"] == user["userId"]


@pytest.mark.parametrize("method", ["email", "sms"])
def test_existing_user_signs_in_with_a_fresh_code(method, client, outbox, sign_up):
    user = sign_up(method, tag=f"signin-{method}")

    masked = client.otp.sign_in(METHODS[method], user.login_id)
    assert_masked(masked, user.login_id)
    message = outbox.wait(user.login_id, after=user.last_message_id)
    assert message["id"] != user.last_message_id

    auth = client.otp.verify_code(METHODS[method], user.login_id, message["code"])
    assert auth["firstSeen"] is False
    assert auth["userId"] == user.user_id


def test_sign_in_of_an_unknown_user_is_rejected_with_user_not_found(client):
    with pytest.raises(AuthException) as raised:
        client.otp.sign_in(DeliveryMethod.EMAIL, new_email("nobody"))
    assert error_code(raised.value) == "E062108"


def test_sign_up_of_an_existing_user_is_rejected_with_user_already_exists(client, sign_up):
    user = sign_up("email", tag="dup")
    with pytest.raises(AuthException) as raised:
        client.otp.sign_up(DeliveryMethod.EMAIL, user.login_id)
    assert error_code(raised.value) == "E062107"


def test_sign_up_or_in_creates_a_new_user_then_signs_the_same_user_in(client, outbox):
    login_id = new_email("upin")

    assert_masked(client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id), login_id)
    first = outbox.wait(login_id)
    new_user = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, first["code"])
    assert new_user["firstSeen"] is True
    assert login_id in new_user["user"]["loginIds"]

    assert_masked(client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id), login_id)
    second = outbox.wait(login_id, after=first["id"])
    existing = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, second["code"])
    assert existing["firstSeen"] is False
    assert existing["userId"] == new_user["userId"]


@pytest.mark.parametrize("method", ["sms", "whatsapp"])
def test_sign_up_or_in_works_over_phone_channels(method, client, outbox):
    login_id = new_login_id(method, "upin-phone")
    assert_masked(client.otp.sign_up_or_in(METHODS[method], login_id), login_id)
    message = outbox.wait(login_id)
    assert message["channel"] == method
    auth = client.otp.verify_code(METHODS[method], login_id, message["code"])
    assert auth["firstSeen"] is True
    assert auth["user"]["phone"] == login_id


def test_sign_up_or_in_custom_claims_land_in_the_session(client, outbox, emulator):
    login_id = new_email("upin-claims")
    client.otp.sign_up_or_in(
        DeliveryMethod.EMAIL, login_id, SignUpOptions(custom_claims={"team": "blue", "level": 4})
    )
    message = outbox.wait(login_id)
    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, message["code"])
    assert auth["sessionToken"]["team"] == "blue"
    assert auth["sessionToken"]["level"] == 4


@pytest.mark.parametrize("method", ["email", "sms"])
def test_sign_up_with_a_username_login_id_delivers_to_the_address_in_the_user_details(method, client, outbox):
    # The SDK supports it: it validates user["email"]/user["phone"] rather than the login id and
    # sends that address too. Descope's SDK docs: the delivery information goes "either in the
    # optional details parameter or as the loginId itself".
    login_id = unique(f"py-username-{method}")
    address = new_login_id(method, "username-address")
    field = "email" if method == "email" else "phone"

    masked = client.otp.sign_up(METHODS[method], login_id, {field: address, "name": "User Name"})
    assert_masked(masked, address)
    message = outbox.wait(address)
    assert message["loginId"] == login_id

    auth = client.otp.verify_code(METHODS[method], login_id, message["code"])
    assert auth["user"]["loginIds"] == [login_id]
    assert auth["user"][field] == address

    # Sign-in by the username reaches the same address.
    client.otp.sign_in(METHODS[method], login_id)
    again = outbox.wait(address, after=message["id"])
    assert client.otp.verify_code(METHODS[method], login_id, again["code"])["userId"] == auth["userId"]
