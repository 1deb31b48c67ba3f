"""Protocol edges the SDKs rely on: project-id checks and base-URL handling."""

from __future__ import annotations

import pytest
from descope import AuthException, DeliveryMethod, DescopeClient

from conftest import error_code, new_email

OTHER_PROJECT_ID = "P2" + "Z" * 26


def test_calls_for_another_project_id_are_refused(emulator, outbox):
    stranger = DescopeClient(project_id=OTHER_PROJECT_ID, base_url=emulator.base_url, timeout_seconds=10)
    login_id = new_email("other-project")
    with pytest.raises(AuthException) as raised:
        stranger.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    assert 400 <= raised.value.status_code < 500
    assert error_code(raised.value), raised.value.error_message
    assert outbox.messages(destination=login_id) == []


def test_a_trailing_slash_in_the_base_url_still_reaches_the_endpoints(emulator, outbox):
    # Python joins base and path as strings, so this sends //v1/...; the emulator folds it (src/descope/API.md §1).
    slashed = DescopeClient(project_id=emulator.project_id, base_url=emulator.base_url + "/", timeout_seconds=10)
    login_id = new_email("slash")
    slashed.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    code = outbox.wait(login_id)["code"]
    auth = slashed.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    assert slashed.refresh_session(auth["refreshSessionToken"]["jwt"])["userId"] == auth["userId"]
