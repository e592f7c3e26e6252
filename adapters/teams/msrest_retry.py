"""A 4 ms CPU cost that botbuilder pays several times per Teams turn, removed.

botbuilder's connector and token clients are built per turn and per proactive send, and each builds
an msrest `ClientRetryPolicy`, whose constructor computes its retry status list as
`[i for i in range(999) if i not in self.safe_codes]` with `safe_codes` a 502-item *list*: about
500,000 comparisons, 3.8 ms of CPU each time, holding the GIL the HTTP loop needs. In a closed loop
of Teams kudos it was 23 % of the server's samples (py-spy, benchmarks/teams_load.py). msrest 0.7.1
is the last release (the project is archived), so the fix is here: the same codes as a frozenset,
so the constructor's list, and the behaviour, are unchanged.
"""

from __future__ import annotations

from msrest.universal_http.requests import ClientRetryPolicy


def apply() -> None:
    codes = ClientRetryPolicy.safe_codes
    if not isinstance(codes, frozenset):
        ClientRetryPolicy.safe_codes = frozenset(codes)
