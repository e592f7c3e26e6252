"""The shipped question bank and the admin's pulse settings: errors name file, line and problem."""

from __future__ import annotations

import pytest

from bot.kernel.errors import ConfigError
from bot.app import parse_org_config
from bot.pulses.bank import active_questions, builtin_bank, parse_bank


def test_builtin_bank_covers_ten_drivers_and_enps():
    bank = builtin_bank()
    assert len(bank) >= 40
    drivers = {q.driver for q in bank.values()} - {"enps"}
    assert len(drivers) >= 10
    enps = [q for q in bank.values() if q.scale == "enps"]
    assert len(enps) == 1 and "recommend" in enps[0].text
    assert {q.scale for q in bank.values()} == {"likert", "enps", "mood", "choice", "text"}


def test_admins_add_and_disable_questions():
    org = parse_org_config(
        """
pulses:
  disable: [tools-4, growth-2]
  questions:
    - {id: oncall-1, driver: wellbeing, scale: likert, text: "On-call this month was bearable."}
    - {id: lunch, driver: peers, scale: choice, text: "Best team lunch?", choices: [Pizza, Sushi]}
""",
        "org.yaml",
    )
    active = active_questions(org.pulses)
    assert "tools-4" not in active and "growth-2" not in active
    assert active["oncall-1"].scale == "likert" and active["lunch"].choices == ["Pizza", "Sushi"]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("pulses:\n  min_group_size: 2\n", "org.yaml:2: pulses.min_group_size: min_group_size must be at least 3"),
        ("pulses:\n  disable: [nope]\n", "org.yaml:2: pulses.disable: unknown question id(s) 'nope'"),
        ("pulses:\n  questions:\n    - {id: enps, driver: x, text: dup question}\n", "org.yaml:3: pulses.questions: question id 'enps' is already in the built-in bank"),
        ("pulses:\n  questions:\n    - id: q1\n      driver: x\n      text: Pick one\n      scale: choice\n", "org.yaml:3: pulses.questions.0: Value error"),
        ("pulses:\n  questions:\n    - id: q1\n      driver: x\n      text: Pick one\n      scale: stars\n", "org.yaml:6: pulses.questions.0.scale: Input should be"),
        ("pulses:\n  questions_per_pulse: 4\n", "org.yaml:2: pulses.questions_per_pulse: Input should be less than or equal to 3"),
        ("teams:\n  a:\n    pulse: {day: funday}\n", "org.yaml:3: teams.a.pulse.day: unknown day 'funday'"),
        ("teams:\n  a:\n    pulse:\n      time: 25:00\n", "org.yaml:4: teams.a.pulse.time: time '25:00' must be HH:MM"),
    ],
)
def test_bad_pulse_config_names_file_line_and_problem(yaml_text, expected):
    with pytest.raises(ConfigError) as err:
        parse_org_config(yaml_text, "org.yaml")
    assert str(err.value).startswith(expected.split(": Value error")[0]), str(err.value)


def test_bank_file_errors_name_line():
    with pytest.raises(ConfigError, match=r"^bank.yaml:4: questions.1.id: duplicate id 'a'"):
        parse_bank("questions:\n  - {id: a, driver: x, text: first one}\n  -\n    id: a\n    driver: x\n    text: second one\n", "bank.yaml")
    with pytest.raises(ConfigError, match=r"^bank.yaml:2: questions.0.choices"):
        parse_bank("questions:\n  - {id: a, driver: x, text: first one, scale: choice, choices: [A, A]}\n", "bank.yaml")


def test_unquoted_time_is_understood():
    org = parse_org_config("teams:\n  a:\n    pulse: {day: Wednesday, time: 9:30}\n", "org.yaml")
    assert (org.teams["a"].pulse.day, org.teams["a"].pulse.time) == ("wed", "09:30")
