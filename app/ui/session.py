"""The admin UI's session: a cookie signed with itsdangerous that holds the id of the API token the
person signed in with and a random CSRF token, nothing secret. The token itself is checked again on
every request (revoked: signed out at once), and the cookie expires after `SFGR_UI_SESSION_S`.

The signing key is derived from the encryption key, so that there is no second secret to manage;
the CSRF token is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.crypto import DEVELOPMENT_KEY
from app.settings import Settings

COOKIE = "sfgr_ui"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class UiSession:
    csrf: str
    token_id: str | None = None  # None: nobody signed in yet (the sign-in form's session)


def new_session(token_id: str | None = None) -> UiSession:
    return UiSession(csrf=secrets.token_urlsafe(24), token_id=token_id)


class SessionSigner:
    def __init__(self, settings: Settings) -> None:
        given = settings.encryption_key
        key = given.get_secret_value().encode() if given else DEVELOPMENT_KEY
        derived = hmac.new(key, b"sfgr admin ui session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(derived, salt="sfgr-ui")
        self.max_age_s = settings.ui_session_s

    def dumps(self, session: UiSession) -> str:
        return self._serializer.dumps({"c": session.csrf, "t": session.token_id})

    def loads(self, value: str | None) -> UiSession | None:
        """The session in the cookie; None when absent, forged or older than the lifetime."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        token_id = data.get("t")
        return UiSession(csrf=data["c"], token_id=token_id if isinstance(token_id, str) else None)


def csrf_matches(session: UiSession, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
