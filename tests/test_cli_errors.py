"""What a newcomer gets wrong on day one: each is one line naming the fix, with an exit code, never a traceback."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.cli import main
from storage.kernel.db import make_engine
from tests.conftest import child_env
from tests.feedback_support import FEEDBACK_ORG_YAML, feedback_rows, seed_directory
from tests.test_cli import cli, free_port, one_line_error

HEADER = "source,id,customer_name,customer_account,score,scale,text,agent_email,agent_name,agent_id,created_at\n"


def test_version():
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"pulsebridge {version('pulsebridge')}\n"


@pytest.mark.parametrize("command", [["run", "--migrate"], ["demo"]])
def test_port_already_in_use_is_one_line_exit_2(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(tmp_path, *command, "--host", "127.0.0.1", "--port", str(port),
                     *(["--database-url", f"sqlite:///{tmp_path}/demo.db"] if command == ["demo"] else []),
                     env={"DATABASE_URL": f"sqlite:///{tmp_path}/pb.db"})
    assert f"port {port} on 127.0.0.1 is already in use" in one_line_error(result)


async def run_socket_mode(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL"))}
    clean.update(DATABASE_URL=f"sqlite:///{tmp_path}/pb.db", PULSEBRIDGE_METRICS_LISTEN="off", SLACK_BOT_TOKEN="xoxb-sock", SLACK_MAX_RETRIES="1", **env)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "run", "--migrate", "--host", "127.0.0.1", "--port", str(free_port()), cwd=tmp_path,
        env=child_env(clean), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("pulsebridge run kept retrying instead of failing fast") from None
    return proc.returncode, err.decode(), time.monotonic() - started


async def test_socket_mode_with_a_refused_app_token_fails_fast(tmp_path, fake_slack):
    fake_slack.revoked_tokens.add("xapp-1-revoked")
    code, err, _ = await run_socket_mode(tmp_path, {"SLACK_APP_TOKEN": "xapp-1-revoked", "SLACK_API_URL": fake_slack.url + "/api/"})
    assert code == 2 and "Traceback" not in err, err
    assert [line for line in err.splitlines() if line.startswith("pulsebridge:")] == [
        "pulsebridge: SLACK_APP_TOKEN: Slack refused the app-level token (invalid_auth); create one with connections:write "
        "under Basic Information → App-Level Tokens, and set socket_mode_enabled: true in the manifest"
    ]
    assert len(fake_slack.calls_to("apps.connections.open:rejected") + fake_slack.calls_to("apps.connections.open")) == 1
    # Before that, `run` logged the feature table `pulsebridge check` prints.
    assert "feature Slack: on (SLACK_BOT_TOKEN set; Socket Mode (SLACK_APP_TOKEN))" in err and "feature Teams: off" in err


async def test_socket_mode_with_slack_unreachable_fails_fast(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once the socket closes
    code, err, _ = await run_socket_mode(tmp_path, {"SLACK_APP_TOKEN": "xapp-1-ok", "SLACK_API_URL": f"http://127.0.0.1:{port}/api/"})
    assert code == 2 and "Traceback" not in err, err
    assert any(line.startswith(f"pulsebridge: Socket Mode: cannot reach Slack at http://127.0.0.1:{port}/api/") for line in err.splitlines()), err


def test_config_path_that_is_a_directory(tmp_path):
    message = one_line_error(cli(tmp_path, "run", env={"PULSEBRIDGE_CONFIG": str(tmp_path)}))
    assert f"PULSEBRIDGE_CONFIG: expected a readable YAML file, but {tmp_path} is a directory" in message


@pytest.fixture
def importer(database_url, tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(FEEDBACK_ORG_YAML, encoding="utf-8")
    engine = make_engine(database_url)
    seed_directory(engine)
    env = {"DATABASE_URL": database_url, "PULSEBRIDGE_CONFIG": str(config), "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}

    def run(*args: str):
        return CliRunner().invoke(main, ["feedback", "import", *args], env=env, catch_exceptions=False)

    yield run, engine, tmp_path
    engine.dispose()


EXCEL_ROWS = [
    "survey,x-1,José Núñez,Café Größe,5,csat5,Carla Diaz était formidable — merci!,,,,\n",
    "survey,x-2,Zoë,Crème,1,csat5,Trop lent.,,,,\n",
]


def test_an_excel_latin1_csv_is_detected_and_read(importer):
    run, engine, tmp = importer
    path = tmp / "excel.csv"
    path.write_bytes((HEADER + "".join(EXCEL_ROWS)).encode("cp1252"))
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert "is not UTF-8: reading it as cp1252" in result.stderr
    assert "imported 2, duplicate 0, rejected 0" in result.stderr
    rows = {r.external_id: r for r in feedback_rows(engine)}
    assert rows["x-1"].customer_name == "José Núñez" and "était formidable — merci" in rows["x-1"].text


def test_encoding_option_is_used_as_given(importer):
    run, engine, tmp = importer
    path = tmp / "export.csv"
    path.write_bytes((HEADER + EXCEL_ROWS[1]).encode("latin-1"))
    result = run(str(path), "--encoding", "latin-1")
    assert result.exit_code == 0 and "not UTF-8" not in result.stderr, result.output
    assert feedback_rows(engine)[0].customer_name == "Zoë"
    assert "--encoding klingon: unknown encoding" in run(str(path), "--encoding", "klingon").stderr


def test_an_unterminated_quote_is_reported_not_swallowed(importer):
    run, engine, tmp = importer
    path = tmp / "broken.csv"
    rows = [
        'survey,q-1,Priya,Globex,5,csat5,"Carla Diaz was great",,,,\n',
        'survey,q-2,Marcus,Initech,5,csat5,"Carla Diaz, again: she never closed this quote,,,,\n',
        'survey,q-3,Jo,Hooli,5,csat5,Carla Diaz,,,,\n',
        'survey,q-4,Jo,Hooli,5,csat5,Carla Diaz,,,,\n',
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1
    assert "imported 1, duplicate 0, rejected 1" in result.stderr
    assert "rejected line 3: unterminated quote: the quoted field opened on line 3 never closes" in result.stderr
    assert [r.external_id for r in feedback_rows(engine)] == ["q-1"]  # q-2 would have carried q-3 and q-4 as its text


def test_quoted_fields_over_several_lines_are_still_fine(importer):
    run, engine, tmp = importer
    path = tmp / "multi.csv"
    path.write_text(HEADER + 'survey,m-1,Priya,Globex,5,csat5,"Carla Diaz was great.\nReally ""great"".",,,,\nsurvey,m-2,Jo,,5,csat5,fine,,,,\n', encoding="utf-8")
    result = run(str(path))
    assert "imported 2, duplicate 0, rejected 0" in result.stderr, result.output
    assert {r.external_id for r in feedback_rows(engine)} == {"m-1", "m-2"}


EXPORT_ORG = """
teams:
  support:
    timezone: Europe/Berlin
    members: [ana@example.com]
"""


def test_export_before_the_first_run_uses_the_org_file_and_has_stable_columns(tmp_path):
    org = tmp_path / "org.yaml"
    org.write_text(EXPORT_ORG, encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db", "PULSEBRIDGE_CONFIG": str(org)}
    assert cli(tmp_path, "db", "upgrade", env=env).returncode == 0
    result = cli(tmp_path, "export", "--team", "support", "--periods", "2", env=env)
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    rows = list(reader)
    assert len(rows) == 2 and {r["team"] for r in rows} == {"support"}
    # Every driver of the question bank has its column even with no answers at all, so the columns
    # are the same for every export (a spreadsheet fed by it does not shift).
    from bot.pulses.bank import builtin_bank

    drivers = {q.driver for q in builtin_bank().values() if q.scale in ("likert", "mood")}
    assert {f"avg_{d}" for d in drivers} <= set(reader.fieldnames)
    assert reader.fieldnames[-1] == "note"
    again = cli(tmp_path, "export", "--team", "support", "--period", "week", env=env)
    assert next(csv.reader(io.StringIO(again.stdout))) == reader.fieldnames


def test_teams_package_refuses_the_example_domain(tmp_path):
    app_id = "8a7f3c1e-2b4d-4e6f-9a0b-1c2d3e4f5a6b"
    for website in ("https://pulsebridge.example.com", "https://example.org"):
        result = cli(tmp_path, "teams-package", "--app-id", app_id, "--website", website)
        assert f"--website {website} is an example domain" in one_line_error(result)
    assert not (tmp_path / "pulsebridge-teams.zip").exists()
    missing = cli(tmp_path, "teams-package", "--app-id", app_id)
    assert missing.returncode == 2 and "--website" in missing.stderr
