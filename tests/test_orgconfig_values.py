"""Org YAML values YAML itself cannot build (an impossible date, a 5,000-digit number): the usual `file:line` error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adapters.cli import main
from bot.kernel.errors import ConfigError
from bot.app import parse_org_config

GOAL = """values: [craft]
teams:
  support:
    name: Support
teamhealth:
  goals:
    - key: kudos
      title: Customers say thanks
      metric: customer_kudos
      target: 2
      teams: [support]
      due: {due}
"""


@pytest.mark.parametrize(
    "due,line,shown",
    [("2026-13-01", 12, "'2026-13-01' cannot be read (month must be in 1..12)"), ("2026-02-30", 12, "'2026-02-30' cannot be read (day is out of range for month)")],
)
def test_an_impossible_date_is_a_one_line_error_at_its_line(due, line, shown):
    with pytest.raises(ConfigError) as caught:
        parse_org_config(GOAL.format(due=due), "org.yaml")
    assert str(caught.value) == f"org.yaml:{line}: not valid YAML ({shown})"


def test_a_5000_digit_number_is_a_one_line_error_at_its_line():
    with pytest.raises(ConfigError, match=r"^org.yaml:12: not valid YAML \('9{37}\.\.\.' cannot be read"):
        parse_org_config(GOAL.format(due="9" * 5000), "org.yaml")


def test_a_real_date_still_loads():
    org = parse_org_config(GOAL.format(due="2026-12-31"), "org.yaml")
    assert str(org.teamhealth.goals[0].due) == "2026-12-31"


def test_the_cli_prints_the_error_without_a_traceback(tmp_path):
    config = tmp_path / "org.yaml"
    config.write_text(GOAL.format(due="2026-13-01"), encoding="utf-8")
    data = tmp_path / "empty.jsonl"
    data.write_text("", encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PULSEBRIDGE_CONFIG": str(config), "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    result = CliRunner().invoke(main, ["feedback", "import", str(data)], env=env)
    assert result.exit_code != 0 and result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{config}:12: not valid YAML ('2026-13-01' cannot be read (month must be in 1..12))" in result.output
    assert "Traceback" not in result.output
