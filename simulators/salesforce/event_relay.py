"""Event Relay: change events relayed to Amazon EventBridge and POSTed by an API destination
(api-contracts A6), one request per event, to `event_relay_url`.

What each request looks like:
- the body is EventBridge's envelope `{"version": "0", "id", "detail-type": "<Entity>ChangeEvent",
  "source": "aws.partner/salesforce.com/<org_id>/<event_relay_channel_id>", "account", "time",
  "region", "resources": [], "detail": {"payload": {...}, "schemaId": ...}}`, the payload being the
  same change event the CometD relay posts (cdc.py: field names, ISO date-times in the body,
  `commitTimestamp` in epoch ms), or with `event_relay_form = "pubsub"` that event in the Pub/Sub
  API's form (relay_forms.py: every field, bitmaps, epoch-ms date-times): A6 does not say which;
- headers: `Content-Type: application/json; charset=utf-8`, `User-Agent:
  Amazon/EventBridge/ApiDestinations` and the API key, `<event_relay_key_header>: <event_relay_key>`
  (the API destination's "API key" authorization; no signature).

Delivery policy, as the API destination's: an answer within 5 s; 429 and 5xx (and no answer) are
retried, with exponential backoff from 1 s up to 5 minutes, for 24 h or 185 attempts; any other
4xx is final (the event would go to the rule's dead-letter queue). Delays and the 24 h are
multiplied by `delivery_time_scale`. `Retry-After` is not read (the sync service never sends it).
Where A6 says UNCONFIRMED the stricter choice is taken: the envelope `id` is new at every attempt,
so a receiver cannot deduplicate by it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from simulators.common.deliveries import Deliverer, Delivery
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.relay_forms import in_form

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0
MAX_AGE_S = 24 * 3600.0
MAX_ATTEMPTS = 185
ANSWER_WITHIN_S = 5.0
AWS_ACCOUNT = "123456789012"
AWS_REGION = "eu-central-1"


def retryable(status: int | None) -> bool:
    """EventBridge retries no answer, 429 and 5xx; another 4xx is final."""
    return status is None or status == 429 or status >= 500


def envelope(config: SalesforceSimConfig, event: dict[str, Any], *, commit_ms: int) -> dict[str, Any]:
    payload = in_form(event["payload"], config.event_relay_form)
    entity = payload["ChangeEventHeader"]["entityName"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": f"{entity}ChangeEvent",
        "source": f"aws.partner/salesforce.com/{config.org_id}/{config.event_relay_channel_id}",
        "account": AWS_ACCOUNT,
        "time": datetime.fromtimestamp(commit_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": AWS_REGION,
        "resources": [],
        "detail": {"payload": payload, "schemaId": event["schema"]},
    }


class EventRelay:
    def __init__(self, *, config: Callable[[], SalesforceSimConfig], deliverer: Deliverer) -> None:
        self._config = config
        self._deliverer = deliverer

    def relay(self, events: list[dict[str, Any]]) -> None:
        """Hands each change event of one commit (CometD-shaped, see cdc.py) to the API destination."""
        if not self._config().event_relay_url:
            return
        for event in events:
            self._submit(event)

    def _submit(self, event: dict[str, Any]) -> None:
        header = event["payload"]["ChangeEventHeader"]
        first_url = self._config().event_relay_url or ""
        scale = self._config().delivery_time_scale

        def render(attempt: int) -> tuple[str, bytes, dict[str, str]]:
            current = self._config()
            wrapped = envelope(current, event, commit_ms=header["commitTimestamp"])
            body = json.dumps(wrapped, separators=(",", ":"))
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Amazon/EventBridge/ApiDestinations",
                current.event_relay_key_header: current.event_relay_key,
            }
            return current.event_relay_url or first_url, body.encode(), headers

        self._deliverer.submit(
            Delivery(
                kind="event_relay",
                key=f"{header['transactionKey']}:{header['sequenceNumber']}",
                render=render,
                acknowledged=lambda status, _reply: 200 <= status < 300,
                retry_delay=lambda attempt: min(FIRST_RETRY_S * 2 ** (attempt - 1), MAX_RETRY_S) * scale,
                retryable=retryable,
                max_attempts=MAX_ATTEMPTS,
                max_age_s=MAX_AGE_S * scale,
                timeout_s=ANSWER_WITHIN_S,
            )
        )
