"""adapters/teams/msrest_retry.py: msrest's retry policy is built cheaply, with exactly the same status codes."""

from __future__ import annotations

from msrest.universal_http.requests import ClientRetryPolicy

from adapters.teams import msrest_retry


def test_the_retry_codes_are_unchanged_and_looked_up_in_a_set():
    safe = [i for i in range(500) if i != 408] + [501, 505]
    expected = [i for i in range(999) if i not in safe]  # msrest 0.7.1's own rule
    msrest_retry.apply()
    msrest_retry.apply()  # idempotent
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)
    assert ClientRetryPolicy().policy.status_forcelist == expected
    assert 408 in expected and 500 in expected and 501 not in expected and 404 not in expected
