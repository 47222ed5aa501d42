"""Vendor credentials and inbound secrets are encrypted at rest with Fernet; `MultiFernet` lets a
new key take over while the previous ones still decrypt, until `sfgr keys rotate` re-encrypted
every stored secret under the new key (`app/control/keys.py`)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.settings import Environment, Settings

# Only where SFGR_ENVIRONMENT says development or test explicitly does a missing key fall back to
# this fixed key, so that the demo and the tests run with no setup; everywhere else Settings
# refuses to start without SFGR_ENCRYPTION_KEY.
DEVELOPMENT_KEY = b"c2Znci1zeW5jLWRldmVsb3BtZW50LWtleS0wMDAwMDA="


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        given = settings.encryption_key.get_secret_value() if settings.encryption_key else ""
        if not given and settings.environment is Environment.PRODUCTION:
            raise ValueError("SFGR_ENCRYPTION_KEY is required unless SFGR_ENVIRONMENT is development or test")
        current = given.encode() if given else DEVELOPMENT_KEY
        previous = [key.encode() for key in settings.previous_encryption_keys]
        self._fernet = MultiFernet([Fernet(current), *(Fernet(key) for key in previous)])

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise ValueError(
                "stored secret cannot be decrypted: was SFGR_ENCRYPTION_KEY changed without keeping the "
                "old key in SFGR_ENCRYPTION_PREVIOUS_KEYS?"
            ) from exc
        return opened

    def reseal(self, token: bytes) -> bytes:
        """The same secret encrypted under the current key (read with any of the keys)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise ValueError(
                "stored secret cannot be decrypted with SFGR_ENCRYPTION_KEY nor SFGR_ENCRYPTION_PREVIOUS_KEYS"
            ) from exc
