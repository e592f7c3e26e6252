"""`pulsebridge feedback import`: CSV and JSON Lines, duplicates, rejections with reasons, --dry-run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adapters.cli import main
from storage.kernel.db import make_engine
from tests.feedback_support import FEEDBACK_ORG_YAML, customer_kudos, feedback_rows, fixture, seed_directory

CSV = """source,id,customer_name,customer_account,score,scale,text,agent_email,agent_name,agent_id,created_at
survey,c-1,Priya,Globex,5,csat5,"Carla Diaz fixed our SSO in minutes, thank you!",,,,2026-10-01T10:00:00Z
survey,c-2,Marcus,Initech,1,csat5,Nobody answered for three days.,,,,2026-10-02T10:00:00Z
survey,c-1,Priya,Globex,5,csat5,"Carla Diaz fixed our SSO in minutes, thank you!",,,,2026-10-01T10:00:00Z
survey,c-3,Jo,,abc,csat5,great,,,,
survey,,Jo,,5,csat5,great,,,,
survey,c-4,Helena,Hooli,9,nps10,"Lovely people, lovely product",,,,
"""


@pytest.fixture
def cli(database_url, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(FEEDBACK_ORG_YAML, encoding="utf-8")
    engine = make_engine(database_url)
    seed_directory(engine)
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "PULSEBRIDGE_CONFIG": str(config), "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}

    def run(*args: str):
        return runner.invoke(main, ["feedback", "import", *args], env=env, catch_exceptions=False)

    yield run, engine, tmp_path
    engine.dispose()


def test_csv_import_counts_imported_duplicate_and_rejected_with_reasons(cli):
    run, engine, tmp = cli
    path = tmp / "export.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1, result.output
    assert "imported 3, duplicate 1, rejected 2" in result.stderr
    assert "line 5: score: expected a number" in result.stderr and "line 6: id: is required" in result.stderr
    rows = {r.external_id: r for r in feedback_rows(engine)}
    assert set(rows) == {"c-1", "c-2", "c-4"}
    assert (rows["c-1"].status, rows["c-1"].route_method) == ("credited", "name_in_text")
    assert rows["c-2"].status == "not_kudos"
    assert rows["c-4"].status == "unrouted"  # praise nobody matched: kept, no triage post for history
    [kudos] = customer_kudos(engine)
    assert kudos.feedback_id == rows["c-1"].id

    again = run(str(path))
    assert "imported 0, duplicate 4, rejected 2" in again.stderr
    assert len(feedback_rows(engine)) == 3


def test_jsonl_import_reads_every_source_format(cli):
    run, engine, tmp = cli
    path = tmp / "export.jsonl"
    lines = [fixture("zendesk_trigger"), fixture("intercom_rating"), fixture("delighted_nps"), fixture("generic")]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{oops\n", encoding="utf-8")
    result = run(str(path))
    assert "imported 4, duplicate 0, rejected 1" in result.stderr and "line 5: not valid JSON" in result.stderr
    methods = {r.source: r.route_method for r in feedback_rows(engine)}
    assert methods == {"zendesk": "agent_mapping", "intercom": "agent_mapping", "delighted": "account_owner", "typeform": "name_in_text"}
    assert len(customer_kudos(engine)) == 4


def test_dry_run_prints_one_json_line_per_record_and_stores_nothing(cli):
    run, engine, tmp = cli
    path = tmp / "export.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run("--dry-run", str(path))
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed[0] == {"id": "c-1", "routed_to": "carla@example.com", "method": "name_in_text", "confidence": 1.0}
    assert printed[1] == {"id": "c-2", "routed_to": None, "method": "not_kudos", "confidence": None}
    assert printed[3] == {"id": "c-4", "routed_to": None, "method": "triage", "confidence": 0.0}
    assert len(printed) == 4 and "rejected" in result.stderr
    assert feedback_rows(engine) == [] and customer_kudos(engine) == []


def test_import_into_an_unmigrated_database_names_the_fix(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"source": "a", "id": "1", "score": 5, "scale": "csat5"}\n', encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "PULSEBRIDGE_CONFIG": None, "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    result = CliRunner().invoke(main, ["feedback", "import", str(path)], env=env)
    assert result.exit_code == 2 and "pulsebridge db upgrade" in result.stderr


async def test_imported_praise_redelivered_by_webhook_is_a_duplicate_that_messages_nobody(database_url, fake_slack, fake_connector, tmp_path):
    from tests.feedback_support import post_feedback, start_feedback_server

    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector)
    try:
        config = tmp_path / "org.yaml"
        config.write_text(FEEDBACK_ORG_YAML, encoding="utf-8")
        path = tmp_path / "export.jsonl"
        path.write_text(json.dumps(fixture("generic")) + "\n", encoding="utf-8")
        env = {"DATABASE_URL": database_url, "PULSEBRIDGE_CONFIG": str(config), "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
        result = CliRunner().invoke(main, ["feedback", "import", str(path)], env=env)
        assert "imported 1" in result.stderr
        status, body = await post_feedback(srv, fixture("generic"))
        assert status == 200 and body["status"] == "duplicate" and body["relay"] == "credited"
        assert srv.slack.calls_to("chat.postMessage") == []
        assert len(customer_kudos(srv.engine)) == 1
    finally:
        await runner.cleanup()
        srv.engine.dispose()
