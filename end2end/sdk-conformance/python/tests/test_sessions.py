"""Session validation, refresh, me, logout and logout-all through the Python SDK."""

from __future__ import annotations

import pytest
from descope import AuthException

from conftest import assert_session_claims, error_code


def assert_refresh_revoked(client, refresh_jwt: str) -> None:
    with pytest.raises(AuthException) as raised:
        client.refresh_session(refresh_jwt)
    assert raised.value.status_code == 401, str(raised.value)
    assert error_code(raised.value), f"no errorCode in {raised.value.error_message!r}"


def test_validate_session_accepts_the_session_jwt_and_exposes_its_claims(client, sign_up, emulator):
    user = sign_up("email", tag="validate")
    validated = client.validate_session(user.session_jwt)
    assert_session_claims(validated, emulator, user_id=user.user_id)
    assert validated["jwt"] == user.session_jwt
    assert validated["userId"] == user.user_id
    assert validated["projectId"] == emulator.project_id


def test_validate_session_rejects_a_session_jwt_with_a_foreign_signature(client, sign_up):
    # Sanity check that validation is real: a token cut from another token's parts must not validate.
    user = sign_up("email", tag="validate-bad")
    header, payload, _ = user.session_jwt.split(".")
    _, _, other_signature = user.refresh_jwt.split(".")
    with pytest.raises(Exception):
        client.validate_session(f"{header}.{payload}.{other_signature}")


def test_refresh_returns_a_new_session_that_the_sdk_validates(client, sign_up, emulator):
    user = sign_up("email", tag="refresh")
    refreshed = client.refresh_session(user.refresh_jwt)

    session = refreshed["sessionToken"]
    assert_session_claims(session, emulator, user_id=user.user_id)
    assert session["iat"] >= user.auth["sessionToken"]["iat"]
    assert refreshed["refreshSessionToken"]["drn"] == "DSR"
    assert refreshed["userId"] == user.user_id

    validated = client.validate_session(session["jwt"])
    assert validated["sub"] == user.user_id
    # The refresh token (rotated or not) keeps working.
    again = client.refresh_session(refreshed["refreshSessionToken"]["jwt"])
    assert again["userId"] == user.user_id


def test_validate_and_refresh_keeps_a_valid_session(client, sign_up):
    user = sign_up("email", tag="vr-valid")
    result = client.validate_and_refresh_session(user.session_jwt, user.refresh_jwt)
    assert result["sessionToken"]["jwt"] == user.session_jwt
    assert result["userId"] == user.user_id


def test_validate_and_refresh_refreshes_a_session_that_fails_validation(client, sign_up, emulator):
    user = sign_up("email", tag="vr-refresh")
    result = client.validate_and_refresh_session("not-a-session-jwt", user.refresh_jwt)
    session = result["sessionToken"]
    assert_session_claims(session, emulator, user_id=user.user_id)
    assert client.validate_session(session["jwt"])["sub"] == user.user_id


def test_a_session_jwt_is_not_accepted_as_a_refresh_token(client, sign_up):
    user = sign_up("email", tag="drn")
    with pytest.raises(AuthException) as raised:
        client.refresh_session(user.session_jwt)
    assert raised.value.status_code == 401, str(raised.value)
    with pytest.raises(AuthException) as raised:
        client.me(user.session_jwt)
    assert raised.value.status_code == 401, str(raised.value)


def test_me_returns_the_signed_in_users_profile(client, sign_up):
    user = sign_up("email", tag="me", user={"name": "Me Myself"})
    me = client.me(user.refresh_jwt)
    assert me["userId"] == user.user_id
    assert user.login_id in me["loginIds"]
    assert me["email"] == user.login_id
    assert me["verifiedEmail"] is True
    assert me["name"] == "Me Myself"
    assert me.get("verifiedPhone") in (False, None)


def test_logout_revokes_that_refresh_token_only(client, sign_up, sign_in):
    user = sign_up("email", tag="logout")
    other_session = sign_in(user)

    response = client.logout(user.refresh_jwt)
    assert response.status_code == 200
    assert isinstance(response.json(), dict)  # Node's SDK parses this body unconditionally

    assert_refresh_revoked(client, user.refresh_jwt)
    with pytest.raises(AuthException) as raised:
        client.me(user.refresh_jwt)
    assert raised.value.status_code == 401

    # The user's other session is untouched.
    assert client.refresh_session(other_session["refreshSessionToken"]["jwt"])["userId"] == user.user_id


def test_logout_all_revokes_every_session_of_the_user(client, sign_up, sign_in):
    user = sign_up("email", tag="logoutall")
    second = sign_in(user)
    bystander = sign_up("email", tag="logoutall-bystander")

    response = client.logout_all(second["refreshSessionToken"]["jwt"])
    assert response.status_code == 200
    assert isinstance(response.json(), dict)

    assert_refresh_revoked(client, user.refresh_jwt)
    assert_refresh_revoked(client, second["refreshSessionToken"]["jwt"])
    # Another user's session is untouched.
    assert client.refresh_session(bystander.refresh_jwt)["userId"] == bystander.user_id


def test_history_and_my_tenants_answer_in_the_shapes_the_sdk_returns(client, sign_up):
    # The emulator keeps no login history and has no tenants; the SDK calls must still work.
    user = sign_up("email", tag="history")
    history = client.history(user.refresh_jwt)
    assert isinstance(history, list)
    assert all(entry.get("userId") == user.user_id for entry in history)
    tenants = client.my_tenants(user.refresh_jwt, dct=True)
    assert isinstance(tenants.get("tenants"), list)

    client.logout(user.refresh_jwt)
    with pytest.raises(AuthException) as raised:
        client.history(user.refresh_jwt)
    assert raised.value.status_code == 401
