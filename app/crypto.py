"""Vendor credentials and inbound secrets are encrypted at rest with one Fernet key."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from app.settings import Settings

# Outside production a missing key falls back to this fixed development key, so that the demo
# and the tests run with no setup; production refuses to start without SFGR_ENCRYPTION_KEY.
DEVELOPMENT_KEY = b"c2Znci1zeW5jLWRldmVsb3BtZW50LWtleS0wMDAwMDA="


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        given = settings.encryption_key
        key = given.get_secret_value().encode() if given else DEVELOPMENT_KEY
        self._fernet = Fernet(key)

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted: was SFGR_ENCRYPTION_KEY changed?") from exc
        return opened
