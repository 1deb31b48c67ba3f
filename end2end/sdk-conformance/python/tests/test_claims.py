"""Claims the emulator must put into session tokens: step-up and custom claims."""

from __future__ import annotations

from descope import DeliveryMethod, LoginOptions, SignUpOptions

from conftest import new_email


def test_sign_in_with_stepup_and_refresh_token_gives_a_session_with_su_true(client, sign_up, sign_in):
    user = sign_up("email", tag="stepup")
    assert user.auth["sessionToken"].get("su") is not True

    stepped_up = sign_in(user, LoginOptions(stepup=True), refresh_token=user.refresh_jwt)

    assert stepped_up["sessionToken"]["su"] is True
    assert stepped_up["userId"] == user.user_id
    validated = client.validate_session(stepped_up["sessionToken"]["jwt"])
    assert validated["su"] is True


def test_custom_claims_from_sign_up_options_land_in_the_session(sign_up):
    user = sign_up(
        "email", tag="claims-up", signup_options=SignUpOptions(custom_claims={"plan": "gold", "seats": 3})
    )
    assert user.auth["sessionToken"]["plan"] == "gold"
    assert user.auth["sessionToken"]["seats"] == 3


def test_custom_claims_from_sign_in_options_land_in_the_session(client, sign_up, sign_in):
    user = sign_up("sms", tag="claims-in")
    auth = sign_in(user, LoginOptions(custom_claims={"tier": "platinum", "flags": ["a", "b"]}))
    assert auth["sessionToken"]["tier"] == "platinum"
    assert auth["sessionToken"]["flags"] == ["a", "b"]
    assert client.validate_session(auth["sessionToken"]["jwt"])["tier"] == "platinum"


def test_sign_in_with_default_login_options_sends_nulls_and_adds_no_claims(sign_up, sign_in):
    # Python sends {"stepup": false, "mfa": false, "customClaims": null}: null must be accepted.
    user = sign_up("email", tag="claims-none")
    auth = sign_in(user, LoginOptions())
    session = auth["sessionToken"]
    assert session.get("su") is not True
    assert set(session) >= {"sub", "iss", "exp", "iat", "drn", "amr"}
    assert auth["userId"] == user.user_id


def test_template_options_reach_the_delivered_message(client, outbox):
    login_id = new_email("template")
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id, SignUpOptions(template_options={"greeting": "Ahoy"}))
    message = outbox.wait(login_id)
    assert message["templateOptions"] == {"greeting": "Ahoy"}
