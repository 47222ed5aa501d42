"""The simulated account's data: lists (campaigns), custom-field definitions, tags, contacts.

A contact is an (email, list) pair (api-contracts B6): the same email on two lists is two contacts
with two ids. Every contact the simulator ever accepted stays here with a `state`, so that the
control API can show what the vendor API hides:

- `pending`: accepted with 202, still queued (invisible to the API, but it already blocks a second
  create of the same email on the same list with 409/1008);
- `unconfirmed`: processed on a list whose API opt-in is double, waiting for the person to
  confirm (`POST /_sim/contacts/{id}/confirm`): the API does not show it at all (checklist C8);
- `active`: visible;
- `rejected`: dropped after the 202 (a `rejected_domains` email), never visible;
- `unsubscribed`, `bounced`, `removed`: gone from the list; the API answers 404/1013 for them.

Everything runs on the server's one event loop and no method awaits, so no locks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from simulators.getresponse import seed
from simulators.getresponse.formats import new_id, now

ContactState = Literal["pending", "unconfirmed", "active", "rejected", "unsubscribed", "bounced", "removed"]
LIVE_STATES: frozenset[str] = frozenset({"pending", "unconfirmed", "active"})
LEFT_STATES: frozenset[str] = frozenset({"unsubscribed", "bounced", "removed"})


@dataclass
class Campaign:
    campaign_id: str
    name: str
    is_default: bool
    created_on: datetime
    language_code: str = "EN"
    optin_types: dict[str, str] = field(
        default_factory=lambda: {"email": "single", "api": "single", "import": "single", "webform": "single"}
    )

    @property
    def tech_name(self) -> str:
        return self.name.lower().replace(" ", "_")


@dataclass
class CustomField:
    field_id: str
    name: str
    type: str  # data type: string, number, date, datetime, country, currency, phone, gender, ip, url
    format: str  # text, textarea, radio, checkbox, single_select, multi_select
    hidden: bool = False
    values: list[str] = field(default_factory=list)


@dataclass
class Tag:
    tag_id: str
    name: str
    color: str = ""


@dataclass
class Contact:
    contact_id: str
    email: str
    campaign_id: str
    origin: str
    created_on: datetime
    changed_on: datetime
    state: ContactState = "active"
    name: str | None = None
    day_of_cycle: str | None = None
    scoring: float | None = None
    note: str | None = None
    ip_address: str | None = None
    tags: list[str] = field(default_factory=list)
    custom: dict[str, list[str]] = field(default_factory=dict)

    def touch(self) -> None:
        self.changed_on = now()


class Store:
    def __init__(self) -> None:
        self.campaigns: dict[str, Campaign] = {}
        self.fields: dict[str, CustomField] = {}
        self.tags: dict[str, Tag] = {}
        self.contacts: dict[str, Contact] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the seed account: its lists, fields and tags, and no contacts."""
        created = now()
        self.contacts.clear()
        self.campaigns = {
            c.campaign_id: Campaign(c.campaign_id, c.name, c.is_default, created) for c in seed.CAMPAIGNS
        }
        self.fields = {
            f.field_id: CustomField(f.field_id, f.name, f.type, f.format, False, list(f.values))
            for f in seed.CUSTOM_FIELDS
        }
        self.tags = {t.tag_id: Tag(t.tag_id, t.name) for t in seed.TAGS}

    def new_id(self) -> str:
        taken = self.campaigns.keys() | self.fields.keys() | self.tags.keys() | self.contacts.keys()
        return new_id(taken)

    def visible_contact(self, contact_id: str) -> Contact | None:
        contact = self.contacts.get(contact_id)
        return contact if contact is not None and contact.state == "active" else None

    def live_contact(self, email: str, campaign_id: str, *, exclude: str | None = None) -> Contact | None:
        """The pending, unconfirmed or active contact holding this email on this list, if any."""
        lowered = email.lower()
        for contact in self.contacts.values():
            if (
                contact.state in LIVE_STATES
                and contact.campaign_id == campaign_id
                and contact.email == lowered
                and contact.contact_id != exclude
            ):
                return contact
        return None

    def latest_gone(self, email: str, campaign_id: str) -> Contact | None:
        """The most recent contact of this email on this list that left it, if any."""
        lowered = email.lower()
        gone = [
            c
            for c in self.contacts.values()
            if c.campaign_id == campaign_id and c.email == lowered and c.state in LEFT_STATES
        ]
        return max(gone, key=lambda c: c.changed_on, default=None)

    def active_contacts(self) -> list[Contact]:
        return [c for c in self.contacts.values() if c.state == "active"]

    def field_by_name(self, name: str) -> CustomField | None:
        return next((f for f in self.fields.values() if f.name == name), None)

    def campaign_by_name(self, name: str) -> Campaign | None:
        lowered = name.lower()
        return next((c for c in self.campaigns.values() if c.name.lower() == lowered), None)
