"""Injected faults and key rotation, as the Python SDK meets them, on a third emulator started
with --allow-faults (so a fault or a retired key here never reaches another test).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import jwt
import pytest
from descope import AuthException, DeliveryMethod, DescopeClient

from conftest import Outbox, error_code, new_email

FAULTS_URL = os.environ.get("CONFORMANCE_FAULTS_BASE_URL", "").rstrip("/")
pytestmark = pytest.mark.skipif(not FAULTS_URL, reason="the emulator has no --allow-faults")


def emulator_call(method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{FAULTS_URL}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201), response.status
        return json.loads(response.read())


def add_fault(**fault) -> None:
    emulator_call("POST", "/emulator/faults", fault)


def active_faults() -> list[dict]:
    return emulator_call("GET", "/emulator/faults")["faults"]


@pytest.fixture(autouse=True)
def no_faults_left_behind():
    emulator_call("DELETE", "/emulator/faults")
    yield
    emulator_call("DELETE", "/emulator/faults")


@pytest.fixture(scope="module")
def faults_client(emulator) -> DescopeClient:
    return DescopeClient(project_id=emulator.project_id, base_url=FAULTS_URL, timeout_seconds=10)


@pytest.fixture(scope="module")
def faults_outbox() -> Outbox:
    return Outbox(FAULTS_URL)


def signed_up(client: DescopeClient, outbox: Outbox, tag: str) -> tuple[str, dict, int]:
    """A new user's login id, verify result, and the id of the outbox message it used."""
    login_id = new_email(tag)
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    message = outbox.wait(login_id)
    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, message["code"])
    return login_id, auth, message["id"]


def test_an_injected_error_reaches_the_sdk_with_its_status_and_code_then_goes(faults_client):
    add_fault(path="/v1/auth/otp/signup-in/", status=500, errorCode="E000000", times=2)
    for _ in range(2):
        with pytest.raises(AuthException) as raised:
            faults_client.otp.sign_up_or_in(DeliveryMethod.EMAIL, new_email("fault-500"))
        assert raised.value.status_code == 500
        assert error_code(raised.value) == "E000000"
    assert active_faults() == []
    faults_client.otp.sign_up_or_in(DeliveryMethod.EMAIL, new_email("fault-500-after"))


def test_the_sdk_retries_an_injected_503_and_gets_through(faults_client, faults_outbox):
    # Python retries 503 after 0.1 s (then 5 s, 5 s): one injected 503 costs it one quick retry.
    login_id = new_email("fault-503")
    add_fault(path="/v1/auth/otp/signup-in/", status=503, errorCode="E000000", times=1)
    masked = faults_client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    assert masked
    assert active_faults() == []
    assert faults_outbox.wait(login_id)["loginId"] == login_id


def test_a_dropped_connection_fails_the_call_and_the_next_call_works(faults_client, faults_outbox):
    login_id, auth, _ = signed_up(faults_client, faults_outbox, "fault-drop")
    refresh_jwt = auth["refreshSessionToken"]["jwt"]
    add_fault(path="/v1/auth/me", status=0, times=1)
    with pytest.raises(Exception) as raised:
        faults_client.me(refresh_jwt)
    # No answer at all: not an error the emulator sent (that would be an AuthException with a body).
    assert not (isinstance(raised.value, AuthException) and error_code(raised.value)), raised.value
    assert faults_client.me(refresh_jwt)["loginIds"] == [login_id]


def test_a_delayed_answer_arrives_late_and_whole(faults_client, faults_outbox):
    _, auth, _ = signed_up(faults_client, faults_outbox, "fault-delay")
    add_fault(path="/v1/auth/refresh", delayMs=600, times=1)
    started = time.monotonic()
    refreshed = faults_client.refresh_session(auth["refreshSessionToken"]["jwt"])
    assert time.monotonic() - started >= 0.6
    assert refreshed["userId"] == auth["userId"]


def test_after_a_key_rotation_the_sdk_validates_tokens_of_the_new_key_and_of_the_old_one(
    emulator, faults_client, faults_outbox
):
    login_id, before, first_message = signed_up(faults_client, faults_outbox, "rotate")
    old_kid = jwt.get_unverified_header(before["sessionToken"]["jwt"])["kid"]

    new_kid = emulator_call("POST", "/emulator/keys/rotate", {})["kid"]
    assert new_kid != old_kid
    faults_client.otp.sign_in(DeliveryMethod.EMAIL, login_id)
    code = faults_outbox.wait(login_id, after=first_message)["code"]
    after = faults_client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)

    # The SDK met a kid it had not cached, fetched the JWKS again, and accepted the new token.
    assert jwt.get_unverified_header(after["sessionToken"]["jwt"])["kid"] == new_kid
    assert faults_client.validate_session(after["sessionToken"]["jwt"])["sub"] == after["userId"]
    # The old key is still published: a client that never saw it validates the old token too.
    fresh = DescopeClient(project_id=emulator.project_id, base_url=FAULTS_URL, timeout_seconds=10)
    assert fresh.validate_session(before["sessionToken"]["jwt"])["sub"] == before["userId"]

    emulator_call("POST", "/emulator/keys/rotate", {"retireOld": True})
    newest = DescopeClient(project_id=emulator.project_id, base_url=FAULTS_URL, timeout_seconds=10)
    with pytest.raises(Exception):
        newest.validate_session(before["sessionToken"]["jwt"])
    # The emulator no longer accepts what the retired keys signed either (this client still has
    # the old key cached, so its own check passes and the emulator answers).
    with pytest.raises(AuthException) as raised:
        faults_client.refresh_session(before["refreshSessionToken"]["jwt"])
    assert raised.value.status_code == 401, raised.value
