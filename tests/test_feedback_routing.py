"""The routing rules one by one, through the webhook: which rule decided is recorded, and doubt goes to triage."""

from __future__ import annotations

import pytest

from bot.feedback.config import FeedbackConfig
from bot.feedback.record import Agent, FeedbackRecord
from bot.feedback.routing import Directory, Employee, route
from storage.kernel.db import session
from storage.directory.tables import User
from tests.feedback_support import (
    customer_kudos,
    fb,  # noqa: F401 - fixture
    feedback_rows,
    generic,
    post_feedback,
    seed_directory,
)


def routed_email(srv) -> str | None:
    row = feedback_rows(srv.engine)[-1]
    if row.routed_user_id is None:
        return None
    with session(srv.engine) as s:
        return s.get(User, row.routed_user_id).email


async def test_rule1_explicit_email_or_platform_id_wins_over_a_name_in_the_text(fb):
    status, body = await post_feedback(fb, generic("Carla Diaz was great", id="e1", agent={"email": "BOB@example.com"}))
    assert status == 201 and body["method"] == "explicit" and routed_email(fb) == "bob@example.com"
    status, body = await post_feedback(fb, generic("Carla Diaz was great", id="e2", agent={"id": "slack:U0ERIN"}))
    assert body["method"] == "explicit" and routed_email(fb) == "erin@example.com"
    status, body = await post_feedback(fb, generic("great help", id="e3", agent={"id": "U0DAN"}))
    assert body["method"] == "explicit" and routed_email(fb) == "dan@example.com"
    # An agent email nobody in the directory has is not a reference to an employee.
    status, body = await post_feedback(fb, generic("Carla Diaz was great", id="e4", agent={"email": "someone@vendor.example"}))
    assert body["method"] == "name_in_text" and routed_email(fb) == "carla@example.com"
    assert feedback_rows(fb.engine)[0].route_detail == "agent email bob@example.com"


async def test_rule2_agent_mapping_needs_a_target_in_the_directory(fb):
    status, body = await post_feedback(fb, {**generic("Thanks!", id="m1"), "source": "zendesk", "agent": {"id": "90001"}})
    assert body["method"] == "agent_mapping" and routed_email(fb) == "dan@example.com"
    assert feedback_rows(fb.engine)[-1].route_detail == "agents[zendesk:90001] = dan@example.com"
    # The same agent id from another source is not that mapping.
    status, body = await post_feedback(fb, {**generic("Thanks!", id="m2"), "source": "freshdesk", "agent": {"id": "90001"}})
    assert body["method"] == "account_owner" or body["relay"] == "triage"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bobby sorted it out in minutes, brilliant!", "bob@example.com"),  # configured alias
        ("Guillermoo was fantastic, thanks a lot", "guillermo@example.com"),  # typo
        ("huge thanks to guillermo!", "guillermo@example.com"),  # lowercase, exact
        ("Carla Mendes went above and beyond", "carla.mendes@example.com"),  # full name disambiguates
        ("Ms Diaz was brilliant", "carla@example.com"),  # unique last name
    ],
)
async def test_rule3_one_person_named_in_the_text(fb, text, expected):
    status, body = await post_feedback(fb, generic(text, id="n1", customer={"name": "Priya"}))
    assert status == 201 and body["method"] == "name_in_text", body
    assert routed_email(fb) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Carla was amazing!",  # two Carlas
        "Ana and Bob were both great",  # two people
        "The support team was fantastic",  # a team, not a person
        "Anna was great",  # too close to Ana to forgive: short names must match exactly
        "We will park this until Monday, great support",  # words, not Will Park
    ],
)
async def test_rule3_doubt_is_not_a_match(fb, text):
    seed_directory(fb.engine, [("U0WILL", "Will Park", "will@example.com")])
    status, body = await post_feedback(fb, generic(text, id="d1", customer={"name": "Priya"}))
    assert status == 201 and body["relay"] == "triage" and body["method"] == "triage", body
    assert customer_kudos(fb.engine) == []


async def test_rule4_account_owner_then_rule5_triage(fb):
    status, body = await post_feedback(fb, generic("Lovely service", id="a1", customer={"name": "Helena", "account": "ACME corp"}))
    assert body["method"] == "account_owner" and routed_email(fb) == "ana@example.com"
    assert feedback_rows(fb.engine)[-1].route_confidence == 0.6
    status, body = await post_feedback(fb, generic("Lovely service", id="a2", customer={"name": "Helena", "account": "Hooli"}))
    assert body["method"] == "triage" and routed_email(fb) is None
    post = (await fb.slack.wait_for("chat.postMessage", 3))[-1]
    assert post.params["channel"] == "C0TRIAGE"
    picker = post.params["blocks"][-1]["elements"][0]
    assert picker["type"] == "users_select" and picker["action_id"] == f"feedback.route:{feedback_rows(fb.engine)[-1].id}"


def test_the_customer_own_name_is_not_an_employee_mention():
    directory = Directory([Employee("dana@x.example", "Priya Shah", frozenset({"dana@x.example"}))])
    record = FeedbackRecord("s", "1", "Priya Natarajan", None, 5, "csat5", "Priya here - great job team!", Agent(), None)
    assert route(record, directory, FeedbackConfig()).method == "triage"


def test_feedback_config_errors_name_the_line_and_key():
    from bot.kernel.errors import ConfigError
    from bot.app import parse_org_config

    text = "teams: {}\nfeedback:\n  agents:\n    \"zendesk:1\": not-a-person\n"
    with pytest.raises(ConfigError) as err:
        parse_org_config(text, "org.yaml")
    assert str(err.value).startswith("org.yaml:") and "feedback.agents" in str(err.value) and "not-a-person" in str(err.value)
    with pytest.raises(ConfigError, match="unknown platform 'webex'"):
        parse_org_config("feedback:\n  triage_channels: {webex: X}\n", "org.yaml")
    assert parse_org_config("teams: {}\n").feedback.thresholds.csat_positive == 4


def test_a_short_webhook_secret_is_refused():
    from bot.kernel.errors import ConfigError
    from bot.kernel.settings import load_settings

    with pytest.raises(ConfigError, match="FEEDBACK_WEBHOOK_SECRET: use at least 16"):
        load_settings(_env_file=None, FEEDBACK_WEBHOOK_SECRET="short")


async def test_without_a_triage_channel_unattributed_praise_is_kept_as_unrouted(database_url, fake_slack, fake_connector):
    from tests.feedback_support import FEEDBACK_ORG_YAML, start_feedback_server

    org = FEEDBACK_ORG_YAML.replace('    slack: C0TRIAGE\n    teams: "19:triage@thread.tacv2"\n', "    {}\n").replace("  triage_channels:\n    {}", "  triage_channels: {}")
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector, org)
    try:
        status, body = await post_feedback(srv, generic("Lovely people", id="u1", customer={"name": "X", "account": "Hooli"}))
        assert status == 201 and body["relay"] == "unrouted"
        assert srv.slack.calls_to("chat.postMessage") == [] and customer_kudos(srv.engine) == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()


# -- one person's own name is another's nickname or alias: that is two people, so triage -----------

COLLEAGUES = [
    ("sam@x.example", "Sam Okafor", ()),
    ("samantha@x.example", "Samantha Reyes", ()),
    ("alex@x.example", "Alex Moreau", ()),
    ("alexandra@x.example", "Alexandra Novak", ()),
    ("aleksandr@x.example", "Aleksandr Volkov", ()),
    ("jose@x.example", "José Ramírez", ()),
    ("pepe@x.example", "Pepe Ortega", ()),
    ("francisco@x.example", "Francisco Herrera", ()),
    ("paco@x.example", "Paco Molina", ()),
    ("johannes@x.example", "Johannes Weber", ()),
    ("hans@x.example", "Hans Müller", ()),
    ("william@x.example", "William Turner", ()),
    ("billy@x.example", "Billy Cole", ()),
    ("katarzyna@x.example", "Katarzyna Nowak", ()),
    ("kate@x.example", "Kate Sullivan", ()),
    ("chris@x.example", "Christopher Adler", ("Kit",)),  # a configured alias
    ("kit@x.example", "Kit Morgan", ()),
    ("dmitri@x.example", "Dmitri Sokolov", ()),
    ("gosia@x.example", "Małgorzata Wiśniewska", ()),
]


def route_text(text: str) -> tuple[str | None, str]:
    directory = Directory([Employee(email, name, frozenset({email}), aliases) for email, name, aliases in COLLEAGUES])
    record = FeedbackRecord("s", "1", "Jordan Blake", None, 5, "csat5", text, Agent(), None)
    decision = route(record, directory, FeedbackConfig())
    return (decision.employee.key if decision.employee else None), decision.method


@pytest.mark.parametrize(
    "text",
    ["Thanks to Sam", "sam was great", "Alex was fantastic", "Sasha fixed it", "Pepe was brilliant", "PACO rocks",
     "Hans was a star", "Billy was great", "Kate helped me a lot", "Kit was super helpful"],
)
def test_a_name_that_is_one_persons_own_and_anothers_nickname_goes_to_triage(text):
    assert route_text(text) == (None, "triage")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Samantha was great", "samantha@x.example"),  # own name, nobody's nickname
        ("Alexandra was great", "alexandra@x.example"),  # exact beats a near spelling (Aleksandr is no typo of hers)
        ("Jose was brilliant", "jose@x.example"),
        ("Sam Reyes was great", "samantha@x.example"),  # a full name settles it, with the nickname too
        ("Sam Okafor was great", "sam@x.example"),
        ("Pepe Ramírez fixed it", "jose@x.example"),
        ("Paco Herrera was great", "francisco@x.example"),
        ("Hans Weber was a star", "johannes@x.example"),
        ("Bill Turner was great", "william@x.example"),
        ("Kate Nowak helped me a lot", "katarzyna@x.example"),
        ("Dima helped a lot", "dmitri@x.example"),  # a diminutive in another language with one owner
        ("Gosia sorted it out", "gosia@x.example"),
    ],
)
def test_a_collision_is_settled_by_an_own_name_or_a_full_name(text, expected):
    assert route_text(text) == (expected, "name_in_text")


async def test_thanks_to_sam_is_not_relayed_when_a_colleague_is_called_sam_too(fb):
    """Through the webhook: Samantha's nickname is Sam, so "thanks to Sam" waits in triage and Sam gets nothing."""
    seed_directory(fb.engine, [("U0SAM", "Sam Okafor", "sam@example.com"), ("U0SAMANTHA", "Samantha Reyes", "samantha@example.com")])
    status, body = await post_feedback(fb, generic("Huge thanks to Sam, brilliant help", id="s1", customer={"name": "Priya"}))
    assert status == 201 and body["method"] == "triage" and body["relay"] == "triage", body
    assert "Sam Okafor" in feedback_rows(fb.engine)[-1].route_detail and "Samantha Reyes" in feedback_rows(fb.engine)[-1].route_detail
    assert customer_kudos(fb.engine) == []
    status, body = await post_feedback(fb, generic("Samantha was brilliant", id="s2", customer={"name": "Priya"}))
    assert body["method"] == "name_in_text" and routed_email(fb) == "samantha@example.com"
