"""OAuth state: authorization codes, refresh tokens and access tokens (api-contracts A4).

- An authorization code is single-use and short-lived, bound to the client, the redirect_uri and
  the PKCE `code_challenge` (S256) it was issued with.
- A refresh token lives until revoked; revoking it also revokes the access tokens it minted.
- An access token expires after `session_timeout_s` without use (Salesforce's session timeout,
  2 h of inactivity by default) or when revoked; then REST answers 401 INVALID_SESSION_ID.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from threading import Lock

CODE_LIFETIME_S = 15 * 60


@dataclass
class Session:
    token: str
    user_id: str
    username: str
    scopes: list[str]
    issued_at_ms: int
    last_used: float
    refresh_token: str | None = None


@dataclass(frozen=True)
class CodeGrant:
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    scopes: list[str]
    expires: float


@dataclass
class RefreshGrant:
    client_id: str
    scopes: list[str]
    children: set[str] = field(default_factory=set)


class Sessions:
    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self._sessions: dict[str, Session] = {}
        self._codes: dict[str, CodeGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._lock = Lock()

    def issue(
        self, *, user_id: str, username: str, scopes: list[str], refresh_token: str | None = None
    ) -> Session:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        now = time.time()
        session = Session(token, user_id, username, scopes, int(now * 1000), time.monotonic(), refresh_token)
        with self._lock:
            self._sessions[token] = session
            if refresh_token is not None:
                self._refresh[refresh_token].children.add(token)
        return session

    def validate(self, token: str, timeout_s: float) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            now = time.monotonic()
            if now - session.last_used > timeout_s:
                del self._sessions[token]
                return None
            session.last_used = now
            return session

    def expire_all(self) -> int:
        """Every access token stops working (refresh tokens keep working): the control API's way
        to make a client walk its refresh path without waiting two hours."""
        with self._lock:
            expired = len(self._sessions)
            self._sessions.clear()
            return expired

    def new_code(self, grant: CodeGrant) -> str:
        code = "aPrx" + secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = grant
        return code

    def take_code(self, code: str) -> CodeGrant | None:
        with self._lock:
            grant = self._codes.pop(code, None)
        return grant if grant is not None and grant.expires > time.monotonic() else None

    def new_refresh_token(self, client_id: str, scopes: list[str]) -> str:
        token = "5Aep861" + secrets.token_urlsafe(60)
        with self._lock:
            self._refresh[token] = RefreshGrant(client_id, scopes)
        return token

    def refresh_grant(self, token: str) -> RefreshGrant | None:
        with self._lock:
            return self._refresh.get(token)

    def revoke(self, token: str) -> bool:
        with self._lock:
            if token in self._sessions:
                del self._sessions[token]
                return True
            grant = self._refresh.pop(token, None)
            if grant is None:
                return False
            for child in grant.children:
                self._sessions.pop(child, None)
            return True
