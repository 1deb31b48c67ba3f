"""An app server signs many people in at once: the emulator must keep concurrent flows apart."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
