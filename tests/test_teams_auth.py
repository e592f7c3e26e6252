"""Who may drive /api/messages, and where the bot may send: real JWT checks against a loopback key server.

Every attack posts to the real endpoint and then checks what it got: the status, no stored
conversation or kudos, and no request at all to the attacker's own fake connector (nor a reply to
the legitimate one).
"""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from botframework.connector.auth import MicrosoftAppCredentials, PasswordServiceClientCredentialFactory
from sqlalchemy import select

from bot.kernel.errors import ConfigError
from bot.kernel.messages import Message, Paragraph
from bot.kernel.ports import ChannelPost, SendFailed
from bot.kernel.settings import TEAMS_SERVICE_HOSTS, load_settings
from storage.kernel.db import session, write_unit
from storage.directory.queries import save_conversation_ref
from storage.directory.tables import ConversationRef
from storage.recognition.tables import Kudos
from tests.conftest import make_settings, start_server
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid import ISSUER, FakeOpenIdServer, new_key, unsigned_token

APP_ID = "00000000-0000-0000-0000-00000000b07a"
TENANT = "tenant-1"
KUDOS = "<at>pulsebridge</at> kudos <at>Bob Stone</at> for the release"


class _OutboundToken(MicrosoftAppCredentials):
    """The bot's own token for calling the connector: Azure AD is not reachable from tests."""

    def get_access_token(self, force_refresh: bool = False) -> str:
        return "outbound-test-token"


class FakeCredentials(PasswordServiceClientCredentialFactory):
    """Real app-id checks (the token's audience); only the outbound token is canned."""

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        return _OutboundToken(app_id, self.password, oauth_scope=oauth_scope)


@pytest.fixture
def openid():
    server = FakeOpenIdServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def attacker():
    """The attacker's own Bot Framework connector, on loopback like the real fake but another port."""
    fake = FakeBotConnector()
    await fake.start()
    fake.add_member("29:ana", "Ana Lima (attacker)", "ana@example.com")
    yield fake
    await fake.stop()


@pytest.fixture
async def signed(database_url, fake_slack, fake_connector, openid):
    settings = make_settings(
        database_url, fake_slack.url,
        MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="app-password-for-tests",
        PULSEBRIDGE_TEAMS_TENANTS=TENANT,
        MICROSOFT_OPENID_METADATA_URL=openid.metadata_url, MICROSOFT_TOKEN_ISSUER=ISSUER,
    )
    runner, srv = await start_server(settings, fake_slack, fake_connector, teams_credentials=FakeCredentials(APP_ID, "app-password-for-tests"))
    yield srv
    await runner.cleanup()
    srv.engine.dispose()


def nothing_happened(srv, *connectors: FakeBotConnector) -> None:
    for connector in connectors:
        assert connector.requests == [], connector.requests
    with session(srv.engine) as s:
        assert s.execute(select(ConversationRef)).scalars().all() == []
        assert s.execute(select(Kudos)).scalars().all() == []


def no_tracebacks(caplog) -> None:
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_a_signed_activity_from_the_configured_tenant_runs_and_the_reply_is_authenticated(signed, openid):
    activity = signed.teams_activity(KUDOS, mentions=[("29:bob", "Bob Stone")])
    token = openid.token(openid.claims(APP_ID, activity["serviceUrl"]))
    status, _ = await signed.teams_send(activity, {"Authorization": f"Bearer {token}"})
    assert status in (200, 201)
    await signed.connector.wait_for(2)  # the reply to Ana and the post in the team channel
    assert any(path.endswith("/members/29:ana") for _, path, _ in signed.connector.requests)
    assert {auth for *_, auth in signed.connector.requests} == {"Bearer outbound-test-token"}
    assert "/v1/keys" in openid.fetches  # the keys really came from the metadata document's jwks_uri
    with session(signed.engine) as s:
        assert len(s.execute(select(Kudos)).scalars().all()) == 1


async def test_forged_and_malformed_tokens_get_401_and_reach_no_one(signed, openid, attacker, caplog):
    """Each token claims to be the lead (Ana) sending a command; none may run, none may 500."""
    caplog.set_level(logging.INFO)
    activity = signed.teams_activity("<at>pulsebridge</at> teamhealth support")
    good = openid.claims(APP_ID, activity["serviceUrl"])
    hs256_secret = openid.jwks()["keys"][0]["n"]  # "key confusion": HMAC keyed with the public key
    forged = {
        "no header": None,
        "not a JWT": "Bearer not-a-jwt",
        "Basic scheme": "Basic YWxpY2U6c2VjcmV0",
        "Bearer and nothing": "Bearer ",
        "three words": f"Bearer {openid.token(good)} extra",
        "alg none": "Bearer " + unsigned_token(good, {"alg": "none", "typ": "JWT", "kid": openid.kid}),
        "alg none without kid": "Bearer " + unsigned_token(good, {"alg": "none", "typ": "JWT"}),
        "HS256": "Bearer " + jwt.encode(good, hs256_secret, algorithm="HS256", headers={"kid": openid.kid}),
        "unknown kid": "Bearer " + openid.token(good, kid="someone-elses-key"),
        "no kid": "Bearer " + openid.token(good, kid=None),
        "another RSA key, our kid": "Bearer " + openid.token(good, key=new_key()),
        "wrong issuer": "Bearer " + openid.token({**good, "iss": "https://evil.example"}),
        "wrong audience": "Bearer " + openid.token({**good, "aud": "11111111-2222-3333-4444-555555555555"}),
        "expired": "Bearer " + openid.token({**good, "exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}),
        "no serviceurl claim": "Bearer " + openid.token({k: v for k, v in good.items() if k != "serviceurl"}),
        "serviceurl claim for the attacker": "Bearer " + openid.token({**good, "serviceurl": attacker.url}),
        "garbage signature": "Bearer " + openid.token(good)[:-10] + "AAAAAAAAAA",
    }
    for name, header in forged.items():
        status, body = await signed.teams_send(activity, {"Authorization": header} if header else {})
        assert status == 401, (name, status, body)
        assert "Traceback" not in body
    nothing_happened(signed, signed.connector, attacker)
    no_tracebacks(caplog)


async def test_a_valid_token_from_another_tenant_gets_403(signed, openid, attacker):
    activity = signed.teams_activity(KUDOS, mentions=[("29:bob", "Bob Stone")])
    activity["channelData"] = {"tenant": {"id": "attackers-own-tenant"}}
    activity["conversation"]["tenantId"] = "attackers-own-tenant"
    token = openid.token(openid.claims(APP_ID, activity["serviceUrl"]))
    status, _ = await signed.teams_send(activity, {"Authorization": f"Bearer {token}"})
    assert status == 403
    del activity["channelData"]
    del activity["conversation"]["tenantId"]
    status, _ = await signed.teams_send(activity, {"Authorization": f"Bearer {token}"})
    assert status == 403  # no tenant named at all
    nothing_happened(signed, signed.connector, attacker)


async def test_a_valid_token_for_a_host_not_allowed_gets_403_and_the_host_hears_nothing(signed, openid, attacker):
    """Even a correctly signed activity cannot point the bot at a connector outside the allow-list."""
    activity = signed.teams_activity(KUDOS, mentions=[("29:bob", "Bob Stone")])
    activity["serviceUrl"] = attacker.url
    token = openid.token(openid.claims(APP_ID, attacker.url))
    status, _ = await signed.teams_send(activity, {"Authorization": f"Bearer {token}"})
    assert status == 403
    nothing_happened(signed, signed.connector, attacker)


async def test_local_mode_refuses_a_service_url_outside_the_allow_list(server, attacker):
    """The issue's attack: an unsigned activity claiming to be the lead, naming the attacker's connector."""
    for url in (attacker.url, attacker.url.replace("127.0.0.1", "localhost"), "http://[::1]:1/", "file:///etc/passwd",
                "https://smba.trafficmanager.net.evil.example/", "gopher://127.0.0.1/", ""):
        activity = server.teams_activity("<at>pulsebridge</at> teamhealth support")
        activity["serviceUrl"] = url
        status, _ = await server.teams_send(activity)
        assert status in (400, 403), url
    nothing_happened(server, server.connector, attacker)


async def test_proactive_sends_never_use_a_stored_reference_outside_the_allow_list(server, attacker):
    """A reference stored before this check existed (or written into the database) names the attacker."""
    with write_unit(server.engine) as s:
        save_conversation_ref(
            s, platform="teams", conversation_id="19:support@thread.tacv2", kind="channel",
            reference={"serviceUrl": attacker.url, "channelId": "msteams", "conversation": {"id": "19:support@thread.tacv2"}},
        )
    teams = server.core.adapters["teams"]
    with pytest.raises(SendFailed, match="not an allowed"):
        await teams.send(ChannelPost("teams", "19:support@thread.tacv2"), Message(summary="hi", blocks=(Paragraph(("hi",)),)))
    roster = await teams.roster()
    assert not roster.complete
    assert attacker.requests == [] and server.connector.requests == []


async def test_without_credentials_or_local_mode_the_route_does_not_exist(database_url, fake_slack, fake_connector, attacker):
    settings = make_settings(database_url, fake_slack.url, PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE=False)
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        activity = srv.teams_activity(KUDOS, mentions=[("29:bob", "Bob Stone")])
        activity["serviceUrl"] = attacker.url
        assert (await srv.teams_send(activity))[0] == 404
        assert "teams" not in srv.core.adapters
        nothing_happened(srv, fake_connector, attacker)
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_local_mode_is_refused_off_loopback_and_with_credentials(database_url, fake_slack):
    from adapters.server import build_app

    settings = make_settings(database_url, fake_slack.url)
    assert settings.teams_mode == "local"
    for host in ("0.0.0.0", "::", "10.0.0.5", None):
        with pytest.raises(ConfigError, match="PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: refused unless the server listens on loopback"):
            build_app(settings, bind_host=host)
    with pytest.raises(ConfigError, match="not allowed with MICROSOFT_APP_ID"):
        load_settings(_env_file=None, MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="x", PULSEBRIDGE_TEAMS_TENANTS=TENANT,
                      PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE=True)
    with pytest.raises(ConfigError, match="PULSEBRIDGE_TEAMS_TENANTS: required when MICROSOFT_APP_ID is set"):
        load_settings(_env_file=None, MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="x")
    assert load_settings(_env_file=None).teams_service_hosts == TEAMS_SERVICE_HOSTS


async def test_malformed_activities_get_400_in_signed_mode_too(signed, openid, attacker):
    base = signed.teams_activity("<at>pulsebridge</at> help")
    token = openid.token(openid.claims(APP_ID, base["serviceUrl"]))
    bad = [
        {**base, "from": "29:ana"}, {**base, "conversation": None}, {**base, "conversation": {"id": 7}},
        {**base, "entities": "x"}, {**base, "entities": [{"type": "mention", "mentioned": "x"}]}, {**base, "text": ["a"]},
        {**base, "serviceUrl": 5}, {**base, "type": ""}, {**base, "channelData": []},
        {**base, "timestamp": "not a date"},
    ]
    for body in bad:
        status, text = await signed.teams_send(body, {"Authorization": f"Bearer {token}"})
        assert status == 400, (body, status, text)
    nothing_happened(signed, signed.connector, attacker)


def test_pulsebridge_run_refuses_local_mode_on_a_public_interface(tmp_path):
    from tests.test_cli import cli, one_line_error

    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/pb.db", "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE": "true"}
    line = one_line_error(cli(tmp_path, "run", "--migrate", "--host", "0.0.0.0", "--port", "1", env=env))
    assert "PULSEBRIDGE_TEAMS_INSECURE_LOCAL_MODE: refused unless the server listens on loopback only" in line
