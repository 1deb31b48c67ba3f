"""Wrong codes, attempt limits and the per-recipient message cap, as the Python SDK surfaces them."""

from __future__ import annotations

import pytest
from descope import AuthException, DeliveryMethod, RateLimitException

from conftest import error_code, http_status, new_email, wrong_code

DESCOPE_ERRORS = (AuthException, RateLimitException)


def test_wrong_code_is_rejected_with_E061102_and_the_right_code_still_works(client, outbox):
    login_id = new_email("wrong")
    client.otp.sign_up(DeliveryMethod.EMAIL, login_id)
    code = outbox.wait(login_id)["code"]

    with pytest.raises(AuthException) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, login_id, wrong_code(code))
    assert error_code(raised.value) == "E061102"
    assert 400 <= http_status(raised.value) < 500

    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    assert auth["firstSeen"] is True


def test_a_code_works_only_once(client, outbox):
    login_id = new_email("replay")
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    code = outbox.wait(login_id)["code"]
    client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    with pytest.raises(AuthException) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    assert error_code(raised.value) == "E061102"


def test_one_wrong_code_short_of_the_limit_still_lets_the_right_code_in(client, outbox, emulator):
    login_id = new_email("attempts-under")
    client.otp.sign_up(DeliveryMethod.EMAIL, login_id)
    code = outbox.wait(login_id)["code"]
    for attempt in range(1, emulator.max_attempts):
        with pytest.raises(DESCOPE_ERRORS) as raised:
            client.otp.verify_code(DeliveryMethod.EMAIL, login_id, wrong_code(code))
        assert error_code(raised.value) == "E061102", f"wrong attempt {attempt}: {raised.value}"
    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
    assert auth["firstSeen"] is True


def test_too_many_wrong_codes_give_E061103_and_burn_the_code(client, outbox, emulator):
    login_id = new_email("attempts")
    client.otp.sign_up(DeliveryMethod.EMAIL, login_id)
    message = outbox.wait(login_id)
    code = message["code"]

    for attempt in range(1, emulator.max_attempts):
        with pytest.raises(DESCOPE_ERRORS) as raised:
            client.otp.verify_code(DeliveryMethod.EMAIL, login_id, wrong_code(code))
        assert error_code(raised.value) == "E061102", f"wrong attempt {attempt}: {raised.value}"
    # The contract ("N wrong attempts per code, then E061103") leaves open whether the N-th wrong
    # attempt itself reports E061102 or already E061103; either way it is refused.
    with pytest.raises(DESCOPE_ERRORS) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, login_id, wrong_code(code))
    assert error_code(raised.value) in ("E061102", "E061103"), str(raised.value)

    # The limit is reached: even the right code is refused now, and stays refused.
    for _ in range(2):
        with pytest.raises(DESCOPE_ERRORS) as raised:
            client.otp.verify_code(DeliveryMethod.EMAIL, login_id, code)
        assert error_code(raised.value) == "E061103", str(raised.value)

    # A burned code does not lock the login id out: a newly requested code works. (Sign-up-or-in,
    # because whether a sign-up that was never verified already created the user is not specified.)
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    fresh = outbox.wait(login_id, after=message["id"])
    auth = client.otp.verify_code(DeliveryMethod.EMAIL, login_id, fresh["code"])
    assert login_id in auth["user"]["loginIds"]


def test_a_new_code_replaces_the_previous_one(client, outbox):
    login_id = new_email("reissue")
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    first = outbox.wait(login_id)
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    second = outbox.wait(login_id, after=first["id"])

    # The emulator never hands out the code it voids again, so the old one is certainly refused.
    assert second["code"] != first["code"]
    with pytest.raises(AuthException) as raised:
        client.otp.verify_code(DeliveryMethod.EMAIL, login_id, first["code"])
    assert error_code(raised.value) == "E061102"
    client.otp.verify_code(DeliveryMethod.EMAIL, login_id, second["code"])


def test_message_cap_per_recipient_gives_429_with_retry_after(client, outbox, emulator):
    login_id = new_email("ratelimit")
    for _ in range(emulator.rate_limit_max):
        client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)

    with pytest.raises(RateLimitException) as raised:
        client.otp.sign_up_or_in(DeliveryMethod.EMAIL, login_id)
    error = raised.value
    assert error.status_code == "E130429"  # the Python SDK puts the errorCode here
    assert error.error_type == "API rate limit exceeded"
    retry_after = error.rate_limit_parameters["Retry-After"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= emulator.rate_limit_window_secs

    # The refused request sent nothing, and the cap is per recipient: someone else is unaffected.
    assert len(outbox.messages(destination=login_id)) == emulator.rate_limit_max
    other = new_email("ratelimit-other")
    client.otp.sign_up_or_in(DeliveryMethod.EMAIL, other)
    assert outbox.wait(other)["destination"] == other
