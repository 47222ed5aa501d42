"""`SalesforceSimConfig`: what the simulated org looks like and where it delivers changes.

Everything has a working default, so `create_app()` alone gives a usable org. `POST /_sim/config`
applies a partial update, validated as a whole (see `merged`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulators.salesforce import ids, schema

DEFAULT_ORG_ID = "00D5g0000SfGrSmEQK"
DEFAULT_USER_ID = "0055g00000SfGrIAAV"  # the integration user the OAuth grants log in as
DEFAULT_UI_USER_ID = "0055g00000SfGrUAAV"  # the person whose edits arrive through /_sim/records

OUTBOUND_OBJECTS = ("Lead", "Contact")  # the objects with an outbound-message action (outbound.py)
# CDC selects any modelled object: Lead, Contact, Campaign, CampaignMember.
DEFAULT_CDC_ENTITIES = ["Lead", "Contact"]

DEFAULT_OUTBOUND_FIELDS: dict[str, list[str]] = {
    "Lead": [
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Company",
        "Phone",
        "Country",
        "LeadSource",
        "HasOptedOutOfEmail",
        "GRdeleted__c",
        "IsConverted",
        "LastModifiedDate",
        "SystemModstamp",
    ],
    "Contact": [
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Phone",
        "MailingCountry",
        "LeadSource",
        "HasOptedOutOfEmail",
        "GRdeleted__c",
        "LastModifiedDate",
        "SystemModstamp",
    ],
}


class SalesforceSimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    org_id: str = Field(DEFAULT_ORG_ID, description="18-character organization id, prefix 00D")
    client_id: str = Field("sfgr-sim-client", min_length=1, description="connected-app consumer key")
    client_secret: str = Field("sfgr-sim-secret", min_length=1, description="connected-app consumer secret")
    username: str = Field("integration@sfgr-sim.example", min_length=1)
    user_id: str = Field(DEFAULT_USER_ID, description="the integration user (005...)")
    ui_user_id: str = Field(DEFAULT_UI_USER_ID, description="the user behind control-API (UI) edits")
    environment: Literal["production", "sandbox"] = Field(
        "production", description="login host it pretends to be: login.salesforce.com or test.salesforce.com"
    )
    instance_url: str | None = Field(
        None, description="advertised instance URL; default: the URL each request came in on"
    )
    api_version: str = Field(
        "62.0", pattern=r"^\d{2}\.0$", description="version used in Outbound Message URLs"
    )
    api_quota: int = Field(100_000, ge=0, description="rolling 24 h org API allocation")
    session_timeout_s: float = Field(
        7200.0, gt=0, description="access tokens expire after this much idleness"
    )
    oauth_scopes: list[str] = Field(default_factory=lambda: ["api", "refresh_token"])
    callback_urls: list[str] = Field(
        default_factory=list, description="allowed redirect_uri values; empty: any http(s) URL"
    )
    jwt_public_key: str | None = Field(
        None, description="PEM public key for JWT-bearer assertions; None: signatures are not checked"
    )
    outbound_url: str | None = Field(None, description="Outbound Message endpoint (may hold ?key=...)")
    outbound_fields: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_OUTBOUND_FIELDS))
    cdc_url: str | None = Field(None, description="CDC relay endpoint")
    cdc_secret: str = Field("sfgr-sim-cdc-secret", min_length=1, description="key of X-Sfgr-Signature")
    event_relay_url: str | None = Field(
        None, description="Event Relay: the EventBridge API destination's endpoint, one POST per event"
    )
    event_relay_key_header: str = Field(
        "X-Sfgr-Api-Key", pattern=r"^[A-Za-z0-9-]{1,64}$", description="the API destination's API key name"
    )
    event_relay_key: str = Field("sfgr-sim-event-relay-key", min_length=1, description="its API key value")
    event_relay_form: Literal["cometd", "pubsub"] = Field(
        "cometd", description="the payload's form (relay_forms.py): names and ISO, or bitmaps and epoch ms"
    )
    event_relay_channel_id: str = Field(
        "0YL5g0000008OiZGAU", description="the PlatformEventChannel id in the partner event source"
    )
    cdc_entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CDC_ENTITIES),
        description="entities selected for CDC (and members of the Event Relay channel): Lead, Contact, "
        "Campaign, CampaignMember",
    )
    pubsub_keepalive_s: float = Field(
        270.0, gt=0, description="Pub/Sub API: an empty keepalive response this often while credit is open"
    )
    delivery_time_scale: float = Field(
        0.001, gt=0, description="multiplies every retry delay, timeout and max age of deliveries"
    )
    duplicate_rule_on_email: bool = False
    batch_window_ms: int = Field(20, ge=0, description="changes gathered into one Outbound Message")

    @field_validator("org_id")
    @classmethod
    def _org_id(cls, value: str) -> str:
        return _checked_id(value, ids.ORG_PREFIX)

    @field_validator("user_id", "ui_user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        return _checked_id(value, ids.USER_PREFIX)

    @field_validator("outbound_fields")
    @classmethod
    def _outbound_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        checked: dict[str, list[str]] = {}
        for name, fields in value.items():
            sobject = schema.sobject(name)
            if sobject is None:
                raise ValueError(f"unknown sObject {name!r}")
            if sobject.name not in OUTBOUND_OBJECTS:
                raise ValueError(f"{sobject.name} has no Outbound Message rule in the simulator")
            canonical = ["Id"]
            for raw in fields:
                definition = sobject.field(raw)
                if definition is None or definition.type == "address":
                    raise ValueError(f"{sobject.name} has no field {raw!r} an Outbound Message can carry")
                if definition.name not in canonical:
                    canonical.append(definition.name)
            checked[sobject.name] = canonical
        return checked

    @field_validator("cdc_entities")
    @classmethod
    def _cdc_entities(cls, value: list[str]) -> list[str]:
        names = []
        for name in value:
            sobject = schema.sobject(name)
            if sobject is None:
                raise ValueError(f"unknown sObject {name!r}")
            names.append(sobject.name)
        return names

    @property
    def login_url(self) -> str:
        return (
            "https://test.salesforce.com" if self.environment == "sandbox" else "https://login.salesforce.com"
        )

    def merged(self, patch: dict[str, Any]) -> SalesforceSimConfig:
        """A new config with `patch` applied; raises pydantic.ValidationError on bad values."""
        return SalesforceSimConfig.model_validate(self.model_dump() | patch)


def _checked_id(value: str, prefix: str) -> str:
    if not ids.is_valid(value, prefix):
        raise ValueError(f"must be an 18-character id with prefix {prefix} and a valid checksum")
    return value
