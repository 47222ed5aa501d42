"""GetResponse's modern webhooks, as the simulator sends them (api-contracts B9, checklist C12).

They are configured in the vendor's web UI and have no REST API, so here only `webhook_url` in the
config (`POST /_sim/config`) turns them on. Delivery:

- `POST <webhook_url>` (its `?secret=` included: the only authentication; there is no signature)
  with `Content-Type: application/json`, `X-Webhook-Type: <type>`, `X-Webhook-ID: <uuid>` (one per
  event, the same on every retry: the dedupe key) and `X-Request-ID: <uuid>` (new per attempt);
- acknowledged only by 200, 201, 202 or 204 whose body is the JSON object `{"status": "OK"}`,
  within `webhook_timeout_s` (5 s; scaled by `delivery_time_scale` like the retry waits, but never
  below 1 s). A 204 cannot carry a body, so a 204 is never an acknowledgement.
- otherwise retried 3 more times at increasing intervals (`webhook_retry_intervals_s`, scaled by
  `delivery_time_scale`) after a network error, a timeout, a 429, any 5xx, or a 2xx without that
  body; never after a 1xx, a 3xx (redirects are not followed) or a 4xx other than 429.

Payload: top-level `type`, `account{accountId}`, `event{occurredAt}` as `2021-04-27T12:56:00+00:00`
(a colon in the offset, unlike the API), `contact{contactId,email,name,campaign{...},href}` as it
is right after the change, plus the event's own part.

Type strings. The contracts confirm none of these (UNCONFIRMED). All but `contact_removed` were
found, spelled the same, in several independent public integrations that quote the vendor's
payloads page (`contact_removed_link` is also in that page's header example), and are used as
found:

- `contact_added`: a contact subscribed and became visible (API create once processed, a form
  subscription, a resubscription);
- `contact_removed_link`: the person unsubscribed (also an API DELETE with `messageId`);
- `contact_removed_bounce`: removed after a bounce (control API only);
- `contact_custom_field_changed`: one event per custom field whose value changed, with
  `customField{customFieldId,name,href,values}` (`values: []` when a value was removed);
- `contact_email_changed`: with `emailChange{oldEmail,newEmail}`; `contact.email` is the new one;
- `contact_moved`: the contact was moved to another list through the API, with
  `sourceCampaign{campaignId,name,href}`;
- `contact_removed`: our own name (no public source has one) for a contact deleted through the
  API or the UI. A receiver should treat every `contact_removed*` type as "left the list".

There is no generic "contact updated" event: edits of the name or of other standard fields send
nothing, which is why the sync also polls `changedOn`.

Batching (UNCONFIRMED whether the vendor does it): off by default, one event per request. With
`webhook_batching` on, events of one type raised within `webhook_batch_window_ms` go together as
one JSON array (at most `webhook_batch_max`) under one `X-Webhook-ID`, so a receiver is tested
against both shapes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from simulators.common.deliveries import Deliverer, Delivery
from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.formats import now, webhook_time

CONTACT_ADDED = "contact_added"
CONTACT_UNSUBSCRIBED = "contact_removed_link"
CONTACT_BOUNCE_REMOVED = "contact_removed_bounce"
CONTACT_REMOVED = "contact_removed"
CUSTOM_FIELD_CHANGED = "contact_custom_field_changed"
EMAIL_CHANGED = "contact_email_changed"
CONTACT_MOVED = "contact_moved"

ACK_STATUSES = frozenset({200, 201, 202, 204})


def acknowledged(status: int, body: bytes) -> bool:
    if status not in ACK_STATUSES:
        return False
    try:
        reply = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(reply, dict) and reply.get("status") == "OK"


def retryable(status: int | None) -> bool:
    """Network errors and timeouts (None), 429, 5xx and unacknowledged 2xx are retried."""
    return status is None or status == 429 or status >= 500 or 200 <= status < 300


class WebhookSender:
    def __init__(self, config: Callable[[], GetResponseSimConfig], deliverer: Deliverer) -> None:
        self._config = config
        self._deliverer = deliverer
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        return not self._buffers and self._deliverer.idle

    def emit(self, event_type: str, contact: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        """Queue one event; a no-op while no `webhook_url` is configured."""
        cfg = self._config()
        if not cfg.webhook_url:
            return
        event = {
            "type": event_type,
            "contact": contact,
            **(extra or {}),
            "account": {"accountId": cfg.account_id},
            "event": {"occurredAt": webhook_time(now())},
        }
        if not cfg.webhook_batching:
            self._submit(cfg.webhook_url, event_type, event)
            return
        buffer = self._buffers.setdefault(event_type, [])
        buffer.append(event)
        if len(buffer) >= cfg.webhook_batch_max:
            self._submit(cfg.webhook_url, event_type, self._buffers.pop(event_type))
        elif self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(cfg.webhook_batch_window_ms / 1000, self.flush)

    def flush(self) -> None:
        self._flush_handle = None
        url = self._config().webhook_url
        buffers, self._buffers = self._buffers, {}
        for event_type, events in buffers.items():
            if url:
                self._submit(url, event_type, events)

    def clear(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._buffers.clear()

    def _submit(self, url: str, event_type: str, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
        cfg = self._config()
        webhook_id = str(uuid.uuid4())
        body = json.dumps(payload).encode()

        def render(attempt: int) -> tuple[str, bytes, dict[str, str]]:
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Type": event_type,
                "X-Webhook-ID": webhook_id,
                "X-Request-ID": str(uuid.uuid4()),
            }
            return url, body, headers

        self._deliverer.submit(
            Delivery(
                kind=event_type,
                key=webhook_id,
                render=render,
                acknowledged=acknowledged,
                retry_delay=cfg.retry_delay,
                max_attempts=1 + len(cfg.webhook_retry_intervals_s),
                timeout_s=cfg.webhook_timeout(),
                retryable=retryable,
                follow_redirects=False,
            )
        )
