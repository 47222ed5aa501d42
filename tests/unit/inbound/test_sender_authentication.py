"""Who may deliver: the org id and `?key=` of Outbound Messages, the CDC relay's signature, the
Event Relay key header, the webhook `?secret=`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.db.connections import InboundSecrets
from app.inbound.authentication import (
    check_org,
    connection_for_event_relay_key,
    connection_for_outbound_key,
    connection_for_webhook_secret,
    verify_change_event_signature,
)
from app.inbound.errors import InboundRejected
from tests.unit.inbound.payloads import ORG_ID, sign

NOW = 1_714_557_600
BODY = b'[{"payload":{}}]'


def connection(external_id: str = ORG_ID, **secrets: str) -> InboundSecrets:
    return InboundSecrets(connection_id=uuid.uuid4(), external_id=external_id, secrets=secrets)


def refusal(call: object, *args: object, **kwargs: object) -> InboundRejected:
    with pytest.raises(InboundRejected) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_the_outbound_key_names_the_connection_and_its_org_must_match_exactly() -> None:
    ours = connection(outbound_key="k3y")
    assert connection_for_outbound_key([connection("00D5g0000OtherOrgAA", outbound_key="x"), ours], "k3y") is ours
    check_org(ours, ORG_ID)


@pytest.mark.parametrize(
    "claimed",
    [ORG_ID[:15], ORG_ID[:15] + "XYZ", ORG_ID.lower(), ORG_ID + "A", "00D5g0000OtherOrgAA"],
    ids=["15-char", "same-prefix", "other-case", "longer", "other-org"],
)
def test_anything_but_the_exact_org_id_is_forbidden(claimed: str) -> None:
    problem = refusal(check_org, connection(), claimed)
    assert (problem.status, problem.reason) == (403, "wrong_org")
    assert "OrganizationId" in problem.message


def test_no_salesforce_connection_means_the_service_is_not_ready() -> None:
    problem = refusal(connection_for_outbound_key, [], "k3y")
    assert (problem.status, problem.reason) == (503, "no_connection")
    assert "no Salesforce connection with an Outbound Message key is configured" in problem.message


def test_the_outbound_key_is_always_required() -> None:
    assert refusal(connection_for_outbound_key, [connection(outbound_key="k3y")], None).reason == "missing_key"
    wrong = refusal(connection_for_outbound_key, [connection(outbound_key="k3y")], "k3Y")
    assert (wrong.status, wrong.reason) == (401, "wrong_key")


def test_a_connection_without_an_outbound_key_accepts_no_outbound_message() -> None:
    problem = refusal(connection_for_outbound_key, [connection()], None)
    assert problem.status == 503


@pytest.mark.parametrize("timestamp", ["²", "١٧١٤٥٥٧٦٠٠", "1714557600²", "+1714557600", " ", "9" * 40])
def test_a_signature_timestamp_of_anything_but_ascii_digits_is_malformed(timestamp: str) -> None:
    header = f"t={timestamp},v1={'0' * 64}"
    problem = refusal(verify_change_event_signature, header, BODY,
                      [connection(change_events_secret="relay-secret")], now=NOW)
    assert (problem.status, problem.reason) == (401, "malformed_signature")


def test_a_fresh_signature_of_the_body_identifies_the_connection() -> None:
    ours = connection(change_events_secret="relay-secret")
    others = connection("00D5g0000OtherOrgAA", change_events_secret="other-secret")
    header = sign("relay-secret", BODY, NOW - 299)
    assert verify_change_event_signature(header, BODY, [others, ours], now=NOW) is ours


def test_one_of_several_v1_digests_may_match_while_a_relay_rotates_its_key() -> None:
    ours = connection(change_events_secret="new-secret")
    old = sign("old-secret", BODY, NOW).split(",")[1]
    header = f"{sign('new-secret', BODY, NOW)},{old}"
    assert verify_change_event_signature(header, BODY, [ours], now=NOW) is ours


@pytest.mark.parametrize(
    ("header", "reason", "words"),
    [
        (None, "missing_signature", "missing"),
        ("", "missing_signature", "missing"),
        ("v1=abc", "malformed_signature", "malformed"),
        (f"t={NOW}", "malformed_signature", "malformed"),
        (f"t=yesterday,v1={'0' * 64}", "malformed_signature", "malformed"),
        (sign("relay-secret", BODY, NOW - 301), "expired_signature", "301 s old"),
        (sign("relay-secret", BODY, NOW + 301), "future_signature", "in the future"),
        (sign("forged-secret", BODY, NOW), "wrong_signature", "does not match"),
        (sign("relay-secret", BODY + b" ", NOW), "wrong_signature", "does not match"),
    ],
    ids=["none", "empty", "no-t", "no-v1", "bad-t", "old", "future", "forged", "body-changed"],
)
def test_a_signature_that_does_not_prove_the_relay_is_unauthorized(header: str | None, reason: str, words: str) -> None:
    problem = refusal(verify_change_event_signature, header, BODY,
                      [connection(change_events_secret="relay-secret")], now=NOW)
    assert (problem.status, problem.reason) == (401, reason)
    assert words in problem.message


def test_without_a_change_events_secret_nothing_can_be_verified() -> None:
    problem = refusal(verify_change_event_signature, sign("x", BODY, NOW), BODY, [connection()], now=NOW)
    assert problem.status == 503


def test_the_webhook_secret_identifies_the_getresponse_connection() -> None:
    ours = connection("sfgrAcct1", webhook_secret="s3cret")
    assert connection_for_webhook_secret([connection("other", webhook_secret="x"), ours], "s3cret") is ours
    assert refusal(connection_for_webhook_secret, [ours], None).reason == "missing_secret"
    assert refusal(connection_for_webhook_secret, [ours], "s3creT").reason == "wrong_secret"
    assert refusal(connection_for_webhook_secret, [ours], "ünïcode").status == 401
    assert refusal(connection_for_webhook_secret, [], "s3cret").status == 503


def test_a_rotated_secret_is_accepted_until_the_end_of_its_overlap() -> None:
    rotated = InboundSecrets(
        connection_id=uuid.uuid4(), external_id="sfgrAcct1", secrets={"webhook_secret": "new"},
        previous={"webhook_secret": "old"}, previous_until=datetime.fromtimestamp(NOW + 60, UTC),
    )
    assert connection_for_webhook_secret([rotated], "old", now=NOW + 59) is rotated
    assert connection_for_webhook_secret([rotated], "new", now=NOW + 61) is rotated
    assert refusal(connection_for_webhook_secret, [rotated], "old", now=NOW + 60).reason == "wrong_secret"


# --- Event Relay -----------------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 30, 10, tzinfo=UTC)


def relay_key(connections: list[InboundSecrets], key: str | None) -> InboundSecrets:
    return connection_for_event_relay_key(connections, key, header="X-Sfgr-Api-Key", now=MOMENT)


def test_the_event_relay_key_identifies_the_salesforce_connection() -> None:
    ours = connection(event_relay_key="k-ours")
    assert relay_key([connection("00D5g0000OtherOrgAA", event_relay_key="k-theirs"), ours], "k-ours") is ours


@pytest.mark.parametrize(("key", "reason", "words"), [
    (None, "missing_key", "X-Sfgr-Api-Key header is missing"),
    ("", "missing_key", "missing"),
    ("k-ours ", "wrong_key", "does not hold the Event Relay key"),
    ("K-OURS", "wrong_key", "does not hold"),
])
def test_a_missing_or_wrong_event_relay_key_is_unauthorized(key: str | None, reason: str, words: str) -> None:
    problem = refusal(relay_key, [connection(event_relay_key="k-ours")], key)
    assert (problem.status, problem.reason) == (401, reason)
    assert words in problem.message


def test_the_key_a_rotation_replaced_is_accepted_until_its_grace_ends() -> None:
    def rotated(until: datetime) -> InboundSecrets:
        return connection(event_relay_key="k-new", event_relay_key_previous="k-old",
                          event_relay_key_previous_until=until.isoformat())

    still = rotated(MOMENT + timedelta(seconds=1))
    assert relay_key([still], "k-old") is still
    assert relay_key([still], "k-new") is still
    assert refusal(relay_key, [rotated(MOMENT)], "k-old").reason == "wrong_key"


def test_without_an_event_relay_key_nothing_can_be_accepted_and_the_sender_retries() -> None:
    problem = refusal(relay_key, [connection(outbound_key="k")], "anything")
    assert (problem.status, problem.reason) == (503, "no_connection")


def test_an_event_relay_key_replaced_by_rotate_inbound_secrets_is_accepted_through_the_overlap() -> None:
    rotated = InboundSecrets(
        connection_id=uuid.uuid4(), external_id=ORG_ID, secrets={"event_relay_key": "k-new"},
        previous={"event_relay_key": "k-old"}, previous_until=MOMENT + timedelta(seconds=1),
    )
    assert relay_key([rotated], "k-old") is rotated
    assert relay_key([rotated], "k-new") is rotated
