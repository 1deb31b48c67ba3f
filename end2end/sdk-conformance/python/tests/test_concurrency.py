"""An app server signs many people in at once: the emulator must keep concurrent flows apart."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from descope import DescopeClient

from conftest import METHODS, new_login_id


def test_concurrent_sign_up_flows_each_get_their_own_code_and_user(client, outbox):
    methods = list(METHODS)

    def flow(i: int) -> str:
        method = methods[i % len(methods)]
        login_id = new_login_id(method, f"par{i}")
        client.otp.sign_up(METHODS[method], login_id)
        message = outbox.wait(login_id)
        assert message["loginId"] == login_id
        auth = client.otp.verify_code(METHODS[method], login_id, message["code"])
        assert login_id in auth["user"]["loginIds"]
        refreshed = client.refresh_session(auth["refreshSessionToken"]["jwt"])
        assert refreshed["userId"] == auth["userId"]
        return auth["userId"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        user_ids = list(pool.map(flow, range(16)))
    assert len(set(user_ids)) == 16


def test_requests_the_client_gives_up_on_cost_the_emulator_no_data(client, emulator, sign_up):
    # Under load, clients time out and hang up mid-request. The emulator's in-memory store must
    # come through it whole: it once lost its tables that way ("no such table: refresh_tokens").
    # (The store's own test replaces the connection outright; this is what an SDK would see.)
    users = [sign_up("email", tag=f"impatient{i}") for i in range(4)]
    # Clients that give up after 1 to 20 ms: some before the request is sent, some during it.
    impatient = [
        DescopeClient(project_id=emulator.project_id, base_url=emulator.base_url, timeout_seconds=seconds)
        for seconds in (0.001, 0.002, 0.005, 0.01, 0.02)
    ]

    def give_up(i: int) -> None:
        # `me` goes straight to the emulator (refresh_session would first fetch the JWKS, which
        # such a client never manages), and reads the refresh token and the user from the store.
        try:
            impatient[i % len(impatient)].me(users[i % len(users)].refresh_jwt)
        except Exception:  # a timeout is the point; an answer is fine too
            pass

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(give_up, range(64)))

    for user in users:
        assert client.refresh_session(user.refresh_jwt)["userId"] == user.user_id
        assert client.me(user.refresh_jwt)["userId"] == user.user_id
    assert sign_up("sms", tag="after-impatience").auth["firstSeen"] is True
