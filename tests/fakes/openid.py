"""A stand-in for the Bot Framework's token signer: an OpenID metadata document and JWKS on loopback.

botframework's JwtTokenExtractor fetches both with blocking `requests.get` from inside the event
loop, so this server runs in a thread of its own (an aiohttp fake in the same loop would deadlock).
Tokens are signed with an RSA key made for the test run; nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.test"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeOpenIdServer:
    def __init__(self) -> None:
        self.key = new_key()
        self.kid = f"test-key-{uuid.uuid4().hex[:8]}"
        self.fetches: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    @property
    def metadata_url(self) -> str:
        return self.url + "/v1/.well-known/openidconfiguration"

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", endorsements=["msteams"])
        return {"keys": [jwk]}

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake.fetches.append(self.path)
                if self.path == "/v1/.well-known/openidconfiguration":
                    body = {"issuer": ISSUER, "jwks_uri": fake.url + "/v1/keys", "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/v1/keys":
                    body = fake.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def claims(self, app_id: str, service_url: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": app_id, "serviceurl": service_url, "nbf": now - 5, "exp": now + 600, "iat": now}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, claims: dict[str, Any], *, key: Any = None, kid: str | None | bool = True, alg: str = "RS256") -> str:
        headers: dict[str, Any] = {}
        if kid is True:
            headers["kid"] = self.kid
        elif isinstance(kid, str):
            headers["kid"] = kid
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg, headers=headers)


def unsigned_token(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A JWT with `alg: none` (or any header) and an empty signature, as an attacker would craft it."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."
