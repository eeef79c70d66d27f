"""X-Forwarded-For is believed only from the proxies in ARCHIVE_TRUSTED_PROXIES: a client on
the host cannot rotate the address it is rate-limited by."""

from __future__ import annotations

import httpx

from tests.archive.servers import running_server

LIMIT = 3


def _statuses(base: str) -> list[int]:
    return [
        httpx.get(f"{base}/v1/documents", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(1, LIMIT + 3)
    ]


def test_forwarded_addresses_are_not_believed_unless_configured(fresh_database: str) -> None:
    env = {"ARCHIVE_RATE_LIMIT_PER_ADDRESS": str(LIMIT), "ARCHIVE_RATE_LIMIT_WINDOW_SECONDS": "600"}
    with running_server(fresh_database, env=env) as server:
        # the health check of running_server is exempt; every request below counts
        statuses = _statuses(server.base)
        assert statuses[:LIMIT] == [200] * LIMIT
        assert statuses[LIMIT:] == [429, 429], "rotating X-Forwarded-For escaped the limit"


def test_a_configured_proxy_is_believed(fresh_database: str) -> None:
    env = {
        "ARCHIVE_RATE_LIMIT_PER_ADDRESS": str(LIMIT),
        "ARCHIVE_RATE_LIMIT_WINDOW_SECONDS": "600",
        "ARCHIVE_TRUSTED_PROXIES": "127.0.0.1",
    }
    with running_server(fresh_database, env=env) as server:
        # each forwarded client has its own budget
        assert _statuses(server.base) == [200] * (LIMIT + 2)
