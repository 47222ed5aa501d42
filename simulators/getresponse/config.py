"""Everything a test, the demo or a developer can set on the GetResponse simulator.

Passed to `create_app(config)`, changed at run time with `POST /_sim/config` (a partial update,
validated like the constructor), and never reset by `POST /_sim/reset`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

STANDARD_HREF_BASE = "https://api.getresponse.com/v3"
MAX_HREF_BASE = "https://api3.getresponse360.com/v3"


class GetResponseSimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Authentication (api-contracts B5).
    api_key: str = Field("sfgr-sim-api-key", description="accepted as `X-Auth-Token: api-key <KEY>`")
    oauth_tokens: list[str] = Field(
        default_factory=lambda: ["sfgr-sim-oauth-token"], description="accepted as `Authorization: Bearer`"
    )
    account_id: str = Field("sfgrAcct1", description="`account.accountId` in webhooks")
    max_domain: str | None = Field(
        None, description="a GetResponse MAX account: every call must carry `X-Domain: <this>`"
    )
    href_base: str | None = Field(
        None,
        description="base of every `href`; None: the vendor's own (standard or MAX) API host",
    )

    # Contacts (api-contracts B6).
    create_delay_ms: int = Field(200, ge=0, description="how long a 202-accepted create stays queued")
    rejected_domains: list[str] = Field(
        default_factory=lambda: ["invalid.example"],
        description="creates for emails at these domains are dropped silently after the 202",
    )
    blacklisted_emails: list[str] = Field(
        default_factory=list, description="emails (or `@domain`) refused with 400/1002 at once"
    )
    readd_after_api_delete: bool = Field(
        True,
        description="False: an email deleted through the API or UI cannot be added to that list "
        "again (400/1002), the strictest reading of 'previously deleted' in api-contracts B6",
    )
    custom_field_edits_bump_changed_on: bool = Field(
        False, description="UNCONFIRMED in api-contracts B9; the strict default is that they do not"
    )

    # Limits, per account (api-contracts B10).
    rate_per_second: int = Field(80, ge=1)
    rate_per_window: int = Field(30_000, ge=1)
    window_seconds: float = Field(600.0, gt=0)
    max_concurrent: int = Field(10, ge=1)
    batch_rate_per_window: int = Field(80, ge=1)
    batch_rate_per_second: int = Field(1, ge=1)

    # Webhooks (api-contracts B9).
    webhook_url: str | None = Field(None, description="where webhooks go, with its own `?secret=`")
    webhook_timeout_s: float = Field(
        5.0, gt=0, description="an answer later than this is a failure (scaled, at least 1 s)"
    )
    webhook_retry_intervals_s: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 300.0],
        description="the 3 retries' waits before `delivery_time_scale` (the vendor's are unpublished)",
        min_length=1,
    )
    delivery_time_scale: float = Field(
        0.01, gt=0, description="multiplies the retry waits and the webhook timeout"
    )
    webhook_batching: bool = Field(
        False, description="True: events of one type within the window go as one JSON array"
    )
    webhook_batch_window_ms: int = Field(50, ge=0)
    webhook_batch_max: int = Field(100, ge=1, le=1000)

    def href(self, path: str) -> str:
        default = MAX_HREF_BASE if self.max_domain else STANDARD_HREF_BASE
        return f"{(self.href_base or default).rstrip('/')}/{path.lstrip('/')}"

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        intervals = self.webhook_retry_intervals_s
        return intervals[min(attempt, len(intervals)) - 1] * self.delivery_time_scale

    def webhook_timeout(self) -> float:
        """The per-attempt timeout: scaled like the waits, but never below 1 s, so that a receiver
        on a busy test machine is not failed for ordinary slowness (as the Salesforce simulator)."""
        return max(1.0, self.webhook_timeout_s * self.delivery_time_scale)

    def is_rejected_domain(self, email: str) -> bool:
        return email.rsplit("@", 1)[-1].lower() in {d.lower().lstrip("@") for d in self.rejected_domains}

    def is_blacklisted(self, email: str) -> bool:
        lowered = email.lower()
        domain = "@" + lowered.rsplit("@", 1)[-1]
        return any(entry.lower() in (lowered, domain) for entry in self.blacklisted_emails)
