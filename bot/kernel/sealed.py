"""Accepted requests at rest: sealed with a key derived from PULSEBRIDGE_SECRET_KEY.

Between its ack and the end of its processing a request waits in `inbound_jobs` with everything
needed to process it again after a crash: who clicked which answer on which pulse question, or
wrote which comment. That is exactly the link the pulses' anonymity design never stores, and
blanking the row once processed does not reach the copies the database keeps anyway: PostgreSQL's
dead tuples and WAL (archived with every point-in-time backup), SQLite's freed pages. So the payload
is encrypted (AES-256-GCM from `cryptography`, bound to the row's key) with a key that, like the
respondent keys, lives only in the environment: an operator with the database, its WAL or its
backups reads ciphertext. Without PULSEBRIDGE_SECRET_KEY pulses do not run (docs/privacy.md) and
payloads are stored as they are.

Splitting one HKDF output into the AES key and the digest key keeps each use to its own key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

_INFO = b"pulsebridge inbound_jobs payload v1"
_NONCE = 12


class Unreadable(ValueError):
    """A sealed payload this process cannot open (another secret key, or altered)."""


class Sealer:
    def __init__(self, secret: str | None):
        self._aead: Any = None
        self._digest_key = b""
        if secret:
            # Imported only with a key: cryptography's OpenSSL bindings are 7 MB of resident memory.
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_INFO).derive(secret.encode())
            self._aead = AESGCM(key[:32])
            self._digest_key = key[32:]

    def digest(self, content: str) -> str:
        """A short digest of `content` that only this secret can compute (HMAC with an empty key without one)."""
        return hmac.new(self._digest_key, content.encode(), hashlib.sha256).hexdigest()[:24]

    def seal(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self._aead is None:
            return payload
        nonce = os.urandom(_NONCE)
        data = self._aead.encrypt(nonce, json.dumps(payload, separators=(",", ":")).encode(), key.encode())
        return {"sealed": base64.b64encode(nonce + data).decode()}

    def open(self, key: str, stored: dict[str, Any]) -> dict[str, Any]:
        if "sealed" not in stored:
            return stored
        if self._aead is None:
            raise Unreadable("sealed, and PULSEBRIDGE_SECRET_KEY is not set")
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(stored["sealed"], validate=True)
            return json.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], key.encode()))
        except (InvalidTag, ValueError, TypeError) as exc:
            raise Unreadable("sealed with another PULSEBRIDGE_SECRET_KEY, or altered") from exc
