"""The README, docs/, .env.example and examples/org.yaml against the code they describe, so they cannot rot.

A new setting, command, org-file key, scope or feature that is not documented fails here, and so
does a documented one that no longer exists.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import yaml
from pydantic import BaseModel, ValidationError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
ORG_EXAMPLE = ROOT / "examples" / "org.yaml"
CODE_DIRS = ("bot", "adapters", "storage")
# Read by the tests only, never by the bot (documented in docs/development.md).
TEST_ONLY = {"PULSEBRIDGE_TEST_POSTGRES_URL", "PULSEBRIDGE_TEST_CLOCK", "PULSEBRIDGE_STRESS_PEOPLE", "PULSEBRIDGE_CHILD_CLOCK_OFFSET"}


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    text = readme()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def settings_fields() -> set[str]:
    from bot.kernel.settings import Settings

    return set(Settings.model_fields)


def test_readme_fits_on_a_screen_or_so():
    assert README.stat().st_size < 12 * 1024
    titles = re.findall(r"^## (.+)$", readme(), re.M)
    assert titles[:4] == ["Try it", "Run the tests", "Slack quick start", "Teams quick start"]
    assert {"Settings", "Commands", "Read more"} <= set(titles)


def test_the_settings_table_lists_exactly_the_settings_model():
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section("Settings"), re.M))
    assert table == settings_fields()


def test_every_environment_variable_the_code_reads_is_a_documented_setting():
    pattern = re.compile(r"""(?:environ\.get|getenv|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    read = {name for d in CODE_DIRS for path in (ROOT / d).rglob("*.py") for name in pattern.findall(path.read_text(encoding="utf-8"))}
    assert read, "the scan found nothing: the pattern no longer matches how the code reads the environment"
    assert read - TEST_ONLY <= settings_fields(), "read from os.environ but not a setting (add it to Settings and the README)"


def env_example_lines() -> dict[str, tuple[bool, str]]:
    """name → (active, value) for every `NAME=value` or `# NAME=value` line."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            out[match.group(2)] = (match.group(1) is None, match.group(3))
    return out


def test_env_example_names_every_setting_and_loads(monkeypatch):
    from bot.kernel.settings import Settings

    lines = env_example_lines()
    assert set(lines) == settings_fields()
    monkeypatch.chdir(ROOT)  # its PULSEBRIDGE_CONFIG is examples/org.yaml, relative to the checkout
    for name in settings_fields():
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=str(ENV_EXAMPLE))
    assert settings.PULSEBRIDGE_CONFIG == Path("examples/org.yaml")


def test_each_value_shown_in_env_example_is_valid_for_its_setting(monkeypatch):
    from bot.kernel.settings import Settings

    monkeypatch.chdir(ROOT)
    for other in settings_fields():
        monkeypatch.delenv(other, raising=False)
    checked = 0
    for name, (_, value) in sorted(env_example_lines().items()):
        if not value or "..." in value:
            continue  # a placeholder to fill in
        checked += 1
        try:
            Settings(_env_file=None, **{name: value})
        except ValidationError as exc:  # a rule about another variable (set X with Y) is fine; one about this value is not
            assert all(err["loc"] != (name,) for err in exc.errors()), (name, exc)
    assert checked >= 10


def model_keys(model: type[BaseModel]) -> set[str]:
    """Every key of a model and of the models it nests (sections, per-team keys, schedules)."""
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= model_keys(candidate)
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    keys |= model_keys(inner)
    return keys


def test_examples_org_yaml_loads_and_shows_every_key():
    from bot.app import OrgConfig, load_org_config

    org = load_org_config(ORG_EXAMPLE)
    assert org.teams and org.pulses.questions and org.teamhealth.goals and org.feedback.triage_channels
    text = ORG_EXAMPLE.read_text(encoding="utf-8")
    shown = set(re.findall(r"([a-z_]+):", text))  # keys, live or in a comment
    missing = model_keys(OrgConfig) - shown
    assert not missing, f"examples/org.yaml does not show {sorted(missing)}"


def cli_commands(group: click.Group, prefix: str = "pulsebridge") -> set[str]:
    out = set()
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        out |= cli_commands(command, path) if isinstance(command, click.Group) else {path}
    return out


def cheat_sheet() -> list[str]:
    """Every `command` in the first column of the README's command table."""
    cells = re.findall(r"^\| (.+?) \| ", section("Commands"), re.M)
    return [entry for cell in cells for entry in re.findall(r"`([^`]+)`", cell)]


def test_the_cheat_sheet_has_every_cli_command_and_no_other():
    from adapters.cli import main

    documented = set()
    for entry in cheat_sheet():
        if entry.startswith("pulsebridge"):
            words = [w for w in shlex.split(entry.replace("[", " ").replace("]", " ")) if re.fullmatch(r"[a-z][a-z-]*", w)]
            documented.add(" ".join(["pulsebridge", *words[1:]]))
    registered = cli_commands(main)
    for command in registered:
        assert any(d == command or d.startswith(command + " ") for d in documented), f"{command} is not in the README's cheat sheet"
    for entry in documented - {"pulsebridge"}:
        assert any(entry == c or entry.startswith(c + " ") for c in registered), f"the cheat sheet names {entry}, which is no command"
    assert "pulsebridge --version" in cheat_sheet()


def test_the_cheat_sheet_has_every_chat_command_with_its_subcommands():
    from bot.app import build_core, parse_org_config
    from storage.kernel.db import make_engine

    engine = make_engine("sqlite://")
    core = build_core(engine, parse_org_config(""))
    engine.dispose()
    slashes = {entry.split()[0] for entry in cheat_sheet() if entry.startswith("/")}
    assert slashes == {f"/{name}" for name in core.commands}
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert slashes == {c["command"] for c in manifest["features"]["slash_commands"]}
    sheet = " ".join(cheat_sheet())
    for sub in ("/kudos stats", "/kudos leaderboard", "/pulse send", "/pulse results", "/goals new", "/goals edit"):
        assert sub in sheet


def test_slack_scopes_in_the_readme_and_in_check_match_the_manifest():
    from adapters.check import SLACK_SCOPES

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    quick_start = section("Slack quick start")
    listed = quick_start.split("Scopes it asks for:", 1)[1].split(".\n", 1)[0]
    assert set(re.findall(r"`([a-z.:_]+)`", listed)) == scopes == set(SLACK_SCOPES)
    for trap in ("socket_mode_enabled: true", "not_in_channel", "/invite @pulsebridge", "Channel ID", "pulsebridge check"):
        assert trap in quick_start


def test_teams_quick_start_says_single_tenant_tenant_id_and_privacy_links():
    text = section("Teams quick start")
    for needed in ("Single Tenant", "MICROSOFT_APP_TENANT_ID", "PULSEBRIDGE_TEAMS_TENANTS", "/privacy", "/terms", "--website"):
        assert needed in text


def test_the_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    readme_command = re.search(r"## Run the tests\n\n```sh\n(.+)\n```", readme()).group(1)
    assert readme_command == "python -m pytest"
    assert readme_command in commands, ".ci/run no longer runs the README's test command verbatim"
    assert "ruff check ." in commands


def test_every_feature_has_its_docs_page_and_every_relative_link_resolves():
    from bot.app import FEATURES

    page_of = {"directory": "configuration.md"}
    for feature in FEATURES:
        assert (ROOT / "docs" / page_of.get(feature.name, f"{feature.name}.md")).is_file(), feature.name
    for page in [README, *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
