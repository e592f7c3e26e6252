"""Answers Teams' typeahead search (`application/search` invokes) for the people pickers in our cards.

The cards hold no list of people (adapters/teams/render.py `people_search`); as someone types,
Teams asks the bot. Answers come from the directory, one bounded page, limited to the tenant the
request came from, so a picker never grows with the company and never shows another tenant's people.
Protocol (learn.microsoft.com, "Typeahead search in Adaptive Cards"): the invoke's value carries
`queryText`, `queryOptions.skip/top` and the card's `dataset`; the answer is
`{"type": "application/vnd.microsoft.search.searchResponse", "value": {"results": [{title, value}]}}`.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity

from adapters.teams import translate
from bot.kernel.messages import PEOPLE_SETS
from storage.kernel.db import session
from storage.directory.queries import search_people, users_seen_in_tenant

INVOKE_NAME = "application/search"
RESPONSE_TYPE = "application/vnd.microsoft.search.searchResponse"
MAX_RESULTS = 15  # what Teams shows; a request for more still gets this many
MAX_QUERY = 100


def tenant_of(activity: Activity) -> str | None:
    conversation = activity.conversation
    if conversation is not None and conversation.tenant_id:
        return conversation.tenant_id
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    return tenant.get("id") if isinstance(tenant.get("id"), str) else None


def _int(value: Any, default: int, low: int, high: int) -> int:
    return max(low, min(high, value)) if isinstance(value, int) and not isinstance(value, bool) else default


def answer(engine, tenants: tuple[str, ...], activity: Activity) -> dict[str, Any]:
    value = activity.value if isinstance(activity.value, dict) else {}
    dataset = value.get("dataset") if isinstance(value.get("dataset"), str) else ""
    people = dataset.removeprefix("people.")
    text = value.get("queryText") if isinstance(value.get("queryText"), str) else ""
    options = value.get("queryOptions") if isinstance(value.get("queryOptions"), dict) else {}
    results: list[dict[str, str]] = []
    searcher = activity.from_property.id if activity.from_property else None
    if dataset.startswith("people.") and people in PEOPLE_SETS and searcher:
        with session(engine) as s:
            # Several allowed tenants share one directory: offer only people met in the asker's tenant.
            tenant = tenant_of(activity)
            scope = users_seen_in_tenant(s, translate.PLATFORM, tenant or "") if len(tenants) > 1 else None
            found = search_people(
                s,
                translate.PLATFORM,
                text[:MAX_QUERY],
                skip=_int(options.get("skip"), 0, 0, 10_000),
                limit=_int(options.get("top"), MAX_RESULTS, 1, MAX_RESULTS),
                exclude_external_id=searcher if people == "others" else None,
                members_only=people == "team_members",
                user_ids=scope,
            )
        results = [{"title": u.display_name or u.external_id, "value": u.external_id} for u in found]
    return {"type": RESPONSE_TYPE, "value": {"results": results}}
