"""The one way an inbound request is refused: `InboundRejected(status, reason, message)`."""

from __future__ import annotations

from app.logs import get_logger
from app.metrics import INBOUND_REJECTED

log = get_logger(__name__)


class InboundRejected(Exception):
    """The request is not accepted: `status` for the sender, `reason` a short metric label,
    `message` a sentence that tells the sender (or the operator reading the log) what is wrong."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def retryable(self) -> bool:
        """The sender should deliver again: the fault is ours (5xx), not the request's."""
        return self.status >= 500


def note_rejection(endpoint: str, rejected: InboundRejected) -> None:
    INBOUND_REJECTED.labels(endpoint, rejected.reason).inc()
    level = log.error if rejected.retryable else log.warning
    level("inbound request rejected", endpoint=endpoint, status=rejected.status, reason=rejected.reason,
          message=rejected.message)


def rejection_body(rejected: InboundRejected) -> dict[str, str]:
    """The JSON error body of the JSON endpoints (CDC relay, GetResponse webhooks)."""
    return {"status": "ERROR", "reason": rejected.reason, "message": rejected.message}
