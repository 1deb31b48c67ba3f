"""Shared fixtures: the emulator's coordinates, the official SDK clients, and the dev outbox.

Everything comes from the environment that run.sh sets; nothing here talks to anything but loopback.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from descope import AuthException, DeliveryMethod, DescopeClient, RateLimitException

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

METHODS: dict[str, DeliveryMethod] = {
    "email": DeliveryMethod.EMAIL,
    "sms": DeliveryMethod.SMS,
    "voice": DeliveryMethod.VOICE,
    "whatsapp": DeliveryMethod.WHATSAPP,
}

# Addresses are unique by construction, never by chance: one counter for this pytest process
# (threads included), and a namespace of its own ("py-" emails, area code 212) that the Node
# suite, which shares the emulator, never uses (it has "node-" and 312).
_PHONE_AREA_CODE = "212"
_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _next_number() -> int:
    with _counter_lock:
        return next(_counter)


@dataclass(frozen=True)
class Emulator:
    base_url: str
    project_id: str
    management_key: str
    max_attempts: int
    rate_limit_max: int
    rate_limit_window_secs: int


def _required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        # Failing (not skipping) keeps a misconfigured run from passing with zero assertions.
        raise RuntimeError(f"{name} is not set; run the suite through end2end/sdk-conformance/run.sh")
    return value


@pytest.fixture(scope="session")
def emulator() -> Emulator:
    base_url = _required_env("CONFORMANCE_BASE_URL").rstrip("/")
    host = urllib.parse.urlsplit(base_url).hostname
    if host not in LOOPBACK_HOSTS:
        raise RuntimeError(f"refusing to run against non-loopback base URL {base_url}")
    return Emulator(
        base_url=base_url,
        project_id=_required_env("CONFORMANCE_PROJECT_ID"),
        management_key=_required_env("CONFORMANCE_MANAGEMENT_KEY"),
        max_attempts=int(os.environ.get("CONFORMANCE_MAX_ATTEMPTS", "5")),
        rate_limit_max=int(os.environ.get("CONFORMANCE_RATE_LIMIT_MAX", "5")),
        rate_limit_window_secs=int(os.environ.get("CONFORMANCE_RATE_LIMIT_WINDOW_SECS", "60")),
    )


@pytest.fixture(scope="session")
def client(emulator: Emulator) -> DescopeClient:
    # A short timeout: a hung emulator should fail a test in seconds, not after the SDK's default 60 s.
    return DescopeClient(project_id=emulator.project_id, base_url=emulator.base_url, timeout_seconds=10)


@pytest.fixture(scope="session")
def mgmt_client(emulator: Emulator) -> DescopeClient:
    return DescopeClient(
        project_id=emulator.project_id,
        management_key=emulator.management_key,
        base_url=emulator.base_url,
        timeout_seconds=10,
    )


class OutboxTimeout(AssertionError):
    pass


class Outbox:
    """The emulator's dev outbox: the only place (besides the test-user OTP endpoint) codes come from."""

    def __init__(self, base_url: str):
        self._base_url = base_url

    def _get(self, path: str, params: dict[str, Any], timeout: float) -> tuple[int, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(f"{self._base_url}{path}?{query}", method="GET")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body)
            except ValueError:
                return error.code, body.decode(errors="replace")

    def wait(
        self,
        destination: str,
        *,
        after: Any = None,
        login_id: str | None = None,
        timeout_ms: int = 5000,
    ) -> dict:
        """Long-poll for the newest message to `destination` newer than `after` (bounded by timeout_ms)."""
        status, body = self._get(
            "/emulator/outbox/wait",
            {"destination": destination, "loginId": login_id, "after": after, "timeoutMs": timeout_ms},
            timeout=timeout_ms / 1000 + 5,
        )
        if status == 408:
            raise OutboxTimeout(f"no message to {destination} after id {after} within {timeout_ms} ms")
        assert status == 200, f"outbox wait answered {status}: {body}"
        assert isinstance(body, dict) and "code" in body, f"outbox wait body is not a message: {body}"
        return body

    def messages(self, destination: str | None = None, login_id: str | None = None) -> list[dict]:
        status, body = self._get("/emulator/outbox", {"destination": destination, "loginId": login_id}, timeout=5)
        assert status == 200, f"outbox list answered {status}: {body}"
        return body["messages"]


@pytest.fixture(scope="session")
def outbox(emulator: Emulator) -> Outbox:
    return Outbox(emulator.base_url)


def unique(tag: str) -> str:
    """`tag` plus a number no other call in this run returns."""
    return f"{tag}-{_next_number()}"


def new_email(tag: str) -> str:
    return f"py-{unique(tag)}@example.com"


def new_phone() -> str:
    """A North American number (+1 212 NXX XXXX) no other call in this run returns."""
    n = _next_number()
    exchange, line = 200 + n // 10_000, n % 10_000
    if exchange > 999:
        raise RuntimeError("new_phone: more than 8 million numbers in one run")
    return f"+1{_PHONE_AREA_CODE}{exchange}{line:04d}"


def new_login_id(method: str, tag: str) -> str:
    return new_email(tag) if method == "email" else new_phone()


def error_code(exc: BaseException) -> str | None:
    """The Descope errorCode the SDK surfaced, whichever exception type it chose."""
    if isinstance(exc, RateLimitException):
        # Quirk of the Python SDK: on 429 the errorCode lands in status_code.
        return exc.status_code
    if isinstance(exc, AuthException):
        try:
            return json.loads(exc.error_message).get("errorCode")
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def http_status(exc: BaseException) -> Any:
    return exc.status_code if isinstance(exc, AuthException) else 429


def wrong_code(code: str) -> str:
    """A code of the same shape that is certainly not `code`."""
    return "".join(str((int(c) + 1) % 10) if c.isdigit() else c for c in code)


@dataclass
class SignedInUser:
    method: str
    login_id: str
    auth: dict  # what verify_code returned
    last_message_id: Any

    @property
    def session_jwt(self) -> str:
        return self.auth["sessionToken"]["jwt"]

    @property
    def refresh_jwt(self) -> str:
        return self.auth["refreshSessionToken"]["jwt"]

    @property
    def user_id(self) -> str:
        return self.auth["userId"]


@pytest.fixture
def sign_up(client: DescopeClient, outbox: Outbox) -> Callable[..., SignedInUser]:
    """Sign a brand-new user up through the SDK and verify the code from the outbox."""

    def _sign_up(method: str = "email", tag: str = "user", signup_options=None, user: dict | None = None):
        login_id = new_login_id(method, tag)
        client.otp.sign_up(METHODS[method], login_id, user, signup_options)
        message = outbox.wait(login_id)
        auth = client.otp.verify_code(METHODS[method], login_id, message["code"])
        return SignedInUser(method, login_id, auth, message["id"])

    return _sign_up


@pytest.fixture
def sign_in(client: DescopeClient, outbox: Outbox) -> Callable[..., dict]:
    """Sign an existing user in again (a second, independent session) and return the verify result."""

    def _sign_in(user: SignedInUser, login_options=None, refresh_token: str | None = None) -> dict:
        client.otp.sign_in(METHODS[user.method], user.login_id, login_options, refresh_token)
        message = outbox.wait(user.login_id, after=user.last_message_id)
        user.last_message_id = message["id"]
        return client.otp.verify_code(METHODS[user.method], user.login_id, message["code"])

    return _sign_in


def assert_masked(masked: Any, address: str) -> None:
    """The SDK returned a masked form of `address`: present, and not the address itself."""
    assert isinstance(masked, str) and masked, f"masked address missing: {masked!r}"
    assert address not in masked, f"masked address {masked!r} leaks {address!r}"
    if "@" in address:
        assert "@" in masked, f"masked email {masked!r} is not email-shaped"


def assert_session_claims(claims: dict, emulator: Emulator, user_id: str | None = None) -> None:
    """Claims every session JWT must carry for the SDKs (src/descope/API.md §5)."""
    assert claims["drn"] == "DS"
    iss = claims["iss"]
    assert iss == emulator.project_id or iss.rstrip("/").split("/")[-1] == emulator.project_id, iss
    assert isinstance(claims["sub"], str) and claims["sub"]
    if user_id is not None:
        assert claims["sub"] == user_id
    assert claims["exp"] > claims["iat"]
    assert claims.get("aud") in (None, emulator.project_id), claims.get("aud")
    assert isinstance(claims["amr"], list) and claims["amr"], claims.get("amr")
