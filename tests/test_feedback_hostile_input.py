"""Hostile but signed feedback: deep nesting, huge numbers, bad bytes. A clear 400 or a rejected line, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.feedback_support import fb, feedback_rows, generic, post_feedback  # noqa: F401 - fixture
from tests.test_feedback_import import cli  # noqa: F401 - fixture

DEEP = b"[" * 200_000 + b"]" * 200_000  # 400 KB: over the webhook's body limit, fine in an import file
DEEP_OPEN = b'{"a": ' + b"[" * 200_000  # 200,000 levels that fit under the webhook's 256 KiB
HUGE_SCORE = b'{"source": "survey", "id": "h-1", "score": ' + b"9" * 400 + b', "scale": "csat5", "text": "great"}'
HUGE_STRING_SCORE = json.dumps(generic("great", id="h-2", score="9" * 400)).encode()
VERY_HUGE = b'{"source": "survey", "id": "h-3", "score": ' + b"9" * 5000 + b', "scale": "csat5", "text": "great"}'
INFINITE = b'{"source": "survey", "id": "h-4", "score": 1e999, "scale": "csat5", "text": "great"}'
NAN = b'{"source": "survey", "id": "h-5", "score": NaN, "scale": "csat5", "text": "great"}'
HUGE_ID = b'{"source": "survey", "id": ' + b"7" * 400 + b', "text": "Carla Diaz was great"}'
DEEP_FIELD = json.dumps(generic("great", id="h-6", extra=json.loads("[" * 40 + "]" * 40))).encode()


@pytest.mark.parametrize(
    "body,reason",
    [
        (DEEP_OPEN, "nested"),
        (DEEP_FIELD, "nested"),
        (HUGE_SCORE, "digits"),
        (HUGE_STRING_SCORE, "too large"),
        (VERY_HUGE, "digits"),
        (INFINITE, "too large"),
        (NAN, "NaN"),
        (HUGE_ID, "digits"),
    ],
    ids=["200k-levels", "deep-field", "400-digit-score", "400-digit-string-score", "5000-digit-score", "1e999", "NaN", "400-digit-id"],
)
async def test_signed_webhook_with_hostile_json_is_a_clear_400_and_stores_nothing(fb, body, reason, caplog):
    status, answer = await post_feedback(fb, body)
    assert status == 400, answer
    assert reason in answer["error"] and answer.get("field") in ("body", "score")
    assert feedback_rows(fb.engine) == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    # Still serving: the next good delivery goes through.
    status, answer = await post_feedback(fb, generic("Carla Diaz was great", id="after"))
    assert status == 201 and answer["relay"] == "relayed"


def test_import_rejects_each_hostile_line_with_its_reason_and_stores_every_good_line(cli):
    run, engine, tmp = cli
    good = [json.dumps(generic("Carla Diaz was great", id=f"ok-{i}")).encode() for i in range(3)]
    too_long = json.dumps(generic("x" * (1024 * 1024), id="long")).encode()
    lines = [good[0], DEEP, HUGE_SCORE, good[1], VERY_HUGE, b'{"id": "bad-bytes", "text": "caf\xe9"}', HUGE_STRING_SCORE, NAN, too_long, good[2]]
    path = tmp / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run(str(path))
    assert result.exit_code == 1, result.output
    assert "imported 3, duplicate 0, rejected 7" in result.stderr
    for number, reason in [(2, "nested"), (3, "digits"), (5, "digits"), (6, "not valid UTF-8"), (7, "too large"), (8, "NaN"), (9, "longer than 1024 KiB")]:
        assert any(line.startswith(f"  rejected line {number}: ") and reason in line for line in result.stderr.splitlines()), (number, result.stderr)
    assert "Traceback" not in result.output
    assert sorted(r.external_id for r in feedback_rows(engine)) == ["ok-0", "ok-1", "ok-2"]


def test_csv_import_rejects_an_oversized_field_and_a_huge_score_and_goes_on(cli):
    run, engine, tmp = cli
    header = "source,id,customer_name,customer_account,score,scale,text,agent_email,agent_name,agent_id,created_at\n"
    rows = [
        'survey,c-1,Priya,Globex,5,csat5,"Carla Diaz was great",,,,\n',
        f'survey,c-2,Priya,Globex,{"9" * 400},csat5,"Carla Diaz was great",,,,\n',
        f'survey,c-3,Priya,Globex,5,csat5,"{"x" * 200_000}",,,,\n',
        'survey,c-4,Priya,Globex,5,csat5,"Carla Diaz was great again",,,,\n',
    ]
    path = tmp / "hostile.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    result = run(str(path))
    assert "imported 2, duplicate 0, rejected 2" in result.stderr, result.stderr
    assert "line 3: score: is too large a number" in result.stderr and "unreadable CSV" in result.stderr
    assert sorted(r.external_id for r in feedback_rows(engine)) == ["c-1", "c-4"]


@pytest.mark.parametrize("headers", [{"X-Pulsebridge-Timestamp": "²"}, {"X-Pulsebridge-Signature": "sha256=é"}, {"X-Pulsebridge-Timestamp": "9" * 5000}])
async def test_odd_signature_headers_are_401_not_500(fb, headers):
    # Found by tests/test_fuzz_inputs.py: "²".isdigit() is True and int("²") raises; compare_digest refuses non-ASCII str.
    from tests.feedback_support import signed_headers

    body = json.dumps(generic("Carla Diaz was great", id="odd")).encode()
    status, _ = await fb.post("/webhooks/feedback", body, signed_headers(body) | headers)
    assert status == 401
    assert feedback_rows(fb.engine) == []
