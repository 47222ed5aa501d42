"""Proving that a sender is who it claims to be, one function per delivery path, from what the
URL and the headers carry, so that an unknown sender is refused before its body is read.

Secrets are compared with `hmac.compare_digest` so that the time taken says nothing about how
much of a guess was right; every candidate is compared, so the time does not tell which matched
either. During a rotation's overlap (app/control/inbound_secrets.py) the previous secret is
accepted too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.connections import InboundSecrets
from app.inbound.errors import InboundRejected

SIGNATURE_HEADER = "X-Sfgr-Signature"
SIGNATURE_TOLERANCE_S = 300
# Names of the entries of a connection's inbound secrets, not secrets themselves.
OUTBOUND_KEY = "outbound_key"
CHANGE_EVENTS_SECRET = "change_events_secret"  # noqa: S105
WEBHOOK_SECRET = "webhook_secret"  # noqa: S105
EVENT_RELAY_KEY = "event_relay_key"
# After `event-relay-key`, the key it replaced and until when (ISO date-time) that key is still
# accepted; `rotate-inbound-secrets` keeps the replaced ones apart instead (InboundSecrets.previous).
PREVIOUS_EVENT_RELAY_KEY = "event_relay_key_previous"
PREVIOUS_EVENT_RELAY_KEY_UNTIL = "event_relay_key_previous_until"
_ASCII_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _no_connection(what: str) -> InboundRejected:
    return InboundRejected(
        503, "no_connection", f"no {what} is configured; connect it first, then deliver again"
    )


def _same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _moment(now: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC)


def _connection_holding(
    connections: Sequence[InboundSecrets], name: str, given: str, *, now: float | None
) -> InboundSecrets | None:
    """The connection one of whose accepted values of secret `name` is `given`."""
    moment = _moment(now)
    found: InboundSecrets | None = None
    for connection in connections:
        for expected in connection.accepted(name, now=moment):
            if _same_secret(given, expected) and found is None:
                found = connection
    return found


# --- Salesforce Outbound Messages (api-contracts A1 "Security advice") ---------------------------


def connection_for_outbound_key(
    connections: Sequence[InboundSecrets], key: str | None, *, now: float | None = None
) -> InboundSecrets:
    """The Salesforce connection whose endpoint URL carries `?key=`: required, and checked before
    the body is read or the org id looked at, so that a caller without the key learns nothing
    about which org is connected. A connection without a key accepts no Outbound Message.
    """
    candidates = [c for c in connections if c.secrets.get(OUTBOUND_KEY)]
    if not candidates:
        raise _no_connection("Salesforce connection with an Outbound Message key")
    if not key:
        raise InboundRejected(401, "missing_key", "the endpoint URL's ?key= parameter is missing")
    found = _connection_holding(candidates, OUTBOUND_KEY, key, now=now)
    if found is None:
        raise InboundRejected(401, "wrong_key", "the endpoint URL's ?key= parameter is wrong")
    return found


def check_org(connection: InboundSecrets, organization_id: str) -> None:
    """The message comes from the org of the connection its key named: an exact match of the
    18-character id.

    Another org can point its own Outbound Messages at our URL, and a 15-character id (or one that
    shares the first 15 characters) is not the same org id, so nothing looser than equality counts.
    """
    if len(organization_id) == 18 and connection.external_id == organization_id:
        return
    if len(organization_id) != 18:
        raise InboundRejected(
            403, "wrong_org",
            f"OrganizationId {organization_id[:40]!r} is not an 18-character org id; only the connected "
            "org's 18-character id is accepted",
        )
    raise InboundRejected(
        403, "wrong_org", f"OrganizationId {organization_id[:40]!r} is not the connected org"
    )


# --- Change Data Capture relay: X-Sfgr-Signature ------------------------------------------------


@dataclass(frozen=True)
class Signature:
    timestamp: int
    digests: tuple[str, ...]


def parse_signature(header: str) -> Signature:
    """`t=<unix seconds>,v1=<hex>`; several v1 values are allowed (a relay rotating its key)."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        # str.isdigit accepts "²" and other digits that int() refuses: ASCII digits only.
        if name == "t" and value and len(value) <= 12 and set(value) <= _ASCII_DIGITS:
            timestamp = int(value)
        elif name == "v1" and len(value) == 64 and set(value) <= _HEX_DIGITS:
            digests.append(value.lower())
    if timestamp is None or not digests:
        raise InboundRejected(
            401, "malformed_signature",
            f"{SIGNATURE_HEADER} is malformed: expected t=<unix seconds>,v1=<64 hex digits of HMAC-SHA256>",
        )
    return Signature(timestamp, tuple(digests))


def check_signature_header(
    header: str | None, connections: Sequence[InboundSecrets], *, now: float
) -> Signature:
    """What can be checked before the body is read: a connection to verify against, a well-formed
    header, and a timestamp within `SIGNATURE_TOLERANCE_S` either way (which bounds replays)."""
    if not any(c.secrets.get(CHANGE_EVENTS_SECRET) for c in connections):
        raise _no_connection("Salesforce connection with a change events secret")
    if not header:
        raise InboundRejected(401, "missing_signature", f"the {SIGNATURE_HEADER} header is missing")
    signature = parse_signature(header)
    age = int(now) - signature.timestamp
    if age > SIGNATURE_TOLERANCE_S:
        raise InboundRejected(
            401, "expired_signature",
            f"the signature is {age} s old; it must be at most {SIGNATURE_TOLERANCE_S} s old",
        )
    if age < -SIGNATURE_TOLERANCE_S:
        raise InboundRejected(
            401, "future_signature",
            f"the signature's timestamp is {-age} s in the future; at most {SIGNATURE_TOLERANCE_S} s allowed",
        )
    return signature


def connection_for_signature(
    signature: Signature, body: bytes, connections: Sequence[InboundSecrets], *, now: float
) -> InboundSecrets:
    """The Salesforce connection whose change-events secret signed `f"{t}.{body}"`."""
    signed = f"{signature.timestamp}.".encode() + body
    moment = _moment(now)
    found: InboundSecrets | None = None
    for connection in connections:
        for secret in connection.accepted(CHANGE_EVENTS_SECRET, now=moment):
            expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            if any(hmac.compare_digest(expected, given) for given in signature.digests) and found is None:
                found = connection
    if found is None:
        raise InboundRejected(
            401, "wrong_signature",
            "the signature does not match the body and timestamp under the configured secret",
        )
    return found


def verify_change_event_signature(
    header: str | None, body: bytes, connections: Sequence[InboundSecrets], *, now: float
) -> InboundSecrets:
    """Both checks at once, for a body already read."""
    signature = check_signature_header(header, connections, now=now)
    return connection_for_signature(signature, body, connections, now=now)


# --- GetResponse webhooks: the ?secret= of the webhook URL (api-contracts B9, C12) -----------------


def connection_for_webhook_secret(
    connections: Sequence[InboundSecrets], secret: str | None, *, now: float | None = None
) -> InboundSecrets:
    """The GetResponse connection whose webhook secret is `secret`: webhooks carry no signature."""
    candidates = [c for c in connections if c.secrets.get(WEBHOOK_SECRET)]
    if not candidates:
        raise _no_connection("GetResponse connection with a webhook secret")
    if not secret:
        raise InboundRejected(401, "missing_secret", "the webhook URL's ?secret= parameter is missing")
    found = _connection_holding(candidates, WEBHOOK_SECRET, secret, now=now)
    if found is None:
        raise InboundRejected(401, "wrong_secret", "the webhook URL's ?secret= parameter is wrong")
    return found


# --- Event Relay: the API key header of EventBridge's API destination (api-contracts A6) ---------


def _event_relay_keys(connection: InboundSecrets, now: datetime) -> list[str]:
    """The connection's key, and the one a rotation replaced while it is still accepted."""
    secrets = connection.secrets
    keys = list(connection.accepted(EVENT_RELAY_KEY, now=now))
    previous, until = secrets.get(PREVIOUS_EVENT_RELAY_KEY), secrets.get(PREVIOUS_EVENT_RELAY_KEY_UNTIL)
    if previous and until and now < datetime.fromisoformat(until):
        keys.append(previous)
    return keys


def connection_for_event_relay_key(
    connections: Sequence[InboundSecrets], key: str | None, *, header: str, now: datetime
) -> InboundSecrets:
    """The Salesforce connection whose Event Relay key is `key`: EventBridge cannot sign a request,
    so this key, sent in `header` by the API destination, is the only proof of the sender."""
    candidates = [(c, _event_relay_keys(c, now)) for c in connections]
    candidates = [(c, keys) for c, keys in candidates if keys]
    if not candidates:
        raise _no_connection("Salesforce connection with an Event Relay key")
    if not key:
        raise InboundRejected(401, "missing_key", f"the {header} header is missing")
    found: InboundSecrets | None = None
    for connection, keys in candidates:  # every key is compared, so the time does not tell which matched
        for expected in keys:
            if _same_secret(key, expected) and found is None:
                found = connection
    if found is None:
        raise InboundRejected(401, "wrong_key", f"the {header} header does not hold the Event Relay key")
    return found
