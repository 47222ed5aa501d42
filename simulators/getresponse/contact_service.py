"""Every change to a contact, whoever makes it: the vendor API (`contacts.py`) or the control API
that plays the person and the account's users (`control.py`). One place decides the effects, so
both paths bump `changedOn` and send webhooks by the same rules.

Creation is asynchronous (api-contracts B6, checklist C8): an API create is validated, answered
202 with no id, and kept `pending` for `create_delay_ms`; only then does it become visible (and
send `contact_added`), or, for an email at one of `rejected_domains`, it is dropped without a word.
A pending create already holds its (email, list) pair: a second create gets 409/1008. On a list
whose `optinTypes.api` is "double" the processed contact waits `unconfirmed`, invisible to the API
(checklist C8), until the control API confirms it for the person.

Refusals with 400/1002 ("state forbids it"): a blacklisted email; an email that unsubscribed from
or bounced on that list; and, with `readd_after_api_delete` off, one deleted from it.

`changedOn` (which edits bump it is UNCONFIRMED, api-contracts B9). Bumped by a change of a
standard field (email, name, list, dayOfCycle, scoring, note, ipAddress) and by leaving the list.
Custom-field changes bump it only with `custom_field_edits_bump_changed_on` (default off: the
stricter choice, so a poller cannot rely on `changedOn` to see them and needs the webhook); tag
changes never do. A write that changes nothing bumps nothing and sends nothing.

Resubscription (the person subscribes again after leaving) creates a new contact with a new
`contactId` (our stricter choice: a link keyed by the old id must be repaired by email).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from simulators.getresponse import webhooks
from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.errors import GetResponseError, duplicate
from simulators.getresponse.formats import now
from simulators.getresponse.render import campaign_ref, webhook_contact
from simulators.getresponse.store import LEFT_STATES, Contact, Store
from simulators.getresponse.webhooks import WebhookSender

STANDARD_FIELDS = ("email", "name", "campaign_id", "day_of_cycle", "scoring", "note", "ip_address")
Departure = Literal["unsubscribed", "bounced", "removed"]
_DEPARTURE_EVENTS: dict[str, str] = {
    "unsubscribed": webhooks.CONTACT_UNSUBSCRIBED,
    "bounced": webhooks.CONTACT_BOUNCE_REMOVED,
    "removed": webhooks.CONTACT_REMOVED,
}


@dataclass
class ContactDraft:
    """A validated new contact (every id in it exists, every value fits its field)."""

    email: str
    campaign_id: str
    name: str | None = None
    day_of_cycle: str | None = None
    scoring: float | None = None
    note: str | None = None
    ip_address: str | None = None
    tags: list[str] = field(default_factory=list)
    custom: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ContactEdit:
    """A validated change. `standard` maps attribute names of `STANDARD_FIELDS` to new values."""

    standard: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, list[str]] | None = None  # replaces the whole set
    custom_upsert: dict[str, list[str]] | None = None  # merged in; [] removes that one field
    tags: list[str] | None = None  # replaces the whole set
    tags_upsert: list[str] | None = None  # merged in


class ContactService:
    def __init__(
        self, store: Store, config: Callable[[], GetResponseSimConfig], sender: WebhookSender
    ) -> None:
        self._store = store
        self._config = config
        self._sender = sender
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> bool:
        """No accepted create is still waiting to be processed."""
        return not self._pending

    def clear(self) -> None:
        for task in self._pending:
            task.cancel()
        self._pending.clear()

    # Creating ---------------------------------------------------------------------------------

    def refusal(self, email: str, campaign_id: str, *, self_service: bool = False) -> GetResponseError | None:
        """Why this email cannot be added to this list now, or None. A person subscribing
        themselves (`self_service`) may come back after leaving; the API may not."""
        cfg = self._config()
        if cfg.is_blacklisted(email):
            return GetResponseError(400, 1002, "Contact is blacklisted", {"email": email})
        if self._store.live_contact(email, campaign_id) is not None:
            return duplicate(
                "Contact already added to this campaign", {"email": email, "campaignId": campaign_id}
            )
        gone = self._store.latest_gone(email, campaign_id)
        if gone is None or self_service:
            return None
        if gone.state != "removed" or not cfg.readd_after_api_delete:
            return GetResponseError(
                400,
                1002,
                f"Contact was {gone.state} from this campaign and cannot be added again",
                {"email": email, "campaignId": campaign_id},
            )
        return None

    def queue_create(self, draft: ContactDraft) -> None:
        """The 202 path: raise the refusal, or queue the contact as `pending`."""
        refusal = self.refusal(draft.email, draft.campaign_id)
        if refusal is not None:
            raise refusal
        contact = self._new_contact(draft, origin="api", state="pending")
        task = asyncio.get_running_loop().create_task(self._process_later(contact.contact_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _process_later(self, contact_id: str) -> None:
        await asyncio.sleep(self._config().create_delay_ms / 1000)
        contact = self._store.contacts.get(contact_id)
        if contact is None or contact.state != "pending":
            return
        if self._config().is_rejected_domain(contact.email):
            contact.state = "rejected"
            return
        if self._store.campaigns[contact.campaign_id].optin_types.get("api") == "double":
            contact.state = "unconfirmed"
            return
        self.confirm(contact)

    def confirm(self, contact: Contact) -> None:
        """The contact becomes visible (for double opt-in: the person clicked the link)."""
        contact.created_on = contact.changed_on = now()
        contact.state = "active"
        self._emit(webhooks.CONTACT_ADDED, contact)

    def subscribe(self, draft: ContactDraft, *, origin: str) -> Contact:
        """A person subscribes (a form, the UI): visible at once."""
        refusal = self.refusal(draft.email, draft.campaign_id, self_service=True)
        if refusal is not None:
            raise refusal
        contact = self._new_contact(draft, origin=origin, state="active")
        self._emit(webhooks.CONTACT_ADDED, contact)
        return contact

    def resubscribe(self, contact: Contact) -> Contact:
        if contact.state not in LEFT_STATES:
            raise GetResponseError(400, 1002, f"Contact is {contact.state}, not off the list")
        draft = ContactDraft(
            email=contact.email,
            campaign_id=contact.campaign_id,
            name=contact.name,
            tags=list(contact.tags),
            custom={k: list(v) for k, v in contact.custom.items()},
        )
        return self.subscribe(draft, origin="www")

    def _new_contact(
        self, draft: ContactDraft, *, origin: str, state: Literal["pending", "active"]
    ) -> Contact:
        moment = now()
        contact = Contact(
            contact_id=self._store.new_id(),
            email=draft.email.lower(),
            campaign_id=draft.campaign_id,
            origin=origin,
            created_on=moment,
            changed_on=moment,
            state=state,
            name=draft.name,
            day_of_cycle=draft.day_of_cycle,
            scoring=draft.scoring,
            note=draft.note,
            ip_address=draft.ip_address,
            tags=list(dict.fromkeys(draft.tags)),
            custom=dict(draft.custom),
        )
        self._store.contacts[contact.contact_id] = contact
        return contact

    # Changing ---------------------------------------------------------------------------------

    def apply(self, contact: Contact, edit: ContactEdit) -> None:
        """Apply a change, raising 409/1008 when the new email is taken on the (new) list."""
        standard = dict(edit.standard)
        if "email" in standard:
            standard["email"] = str(standard["email"]).lower()
        old_email, old_campaign = contact.email, contact.campaign_id
        new_email = standard.get("email", old_email)
        new_campaign = standard.get("campaign_id", old_campaign)
        if (new_email, new_campaign) != (old_email, old_campaign):
            if self._store.live_contact(new_email, new_campaign, exclude=contact.contact_id):
                raise duplicate(
                    "There is another contact with this email in the campaign",
                    {"email": new_email, "campaignId": new_campaign},
                )
        standard_changed = False
        for name, value in standard.items():
            if getattr(contact, name) != value:
                setattr(contact, name, value)
                standard_changed = True

        before = dict(contact.custom)
        if edit.custom is not None:
            contact.custom = dict(edit.custom)
        for field_id, values in (edit.custom_upsert or {}).items():
            if values:
                contact.custom[field_id] = list(values)
            else:
                contact.custom.pop(field_id, None)
        changed_fields = [f for f in {**before, **contact.custom} if before.get(f) != contact.custom.get(f)]

        if edit.tags is not None:
            contact.tags = list(dict.fromkeys(edit.tags))
        for tag_id in edit.tags_upsert or []:
            if tag_id not in contact.tags:
                contact.tags.append(tag_id)

        if standard_changed or (changed_fields and self._config().custom_field_edits_bump_changed_on):
            contact.touch()
        if new_email != old_email:
            self._emit(
                webhooks.EMAIL_CHANGED,
                contact,
                {"emailChange": {"oldEmail": old_email, "newEmail": new_email}},
            )
        if new_campaign != old_campaign:
            source = campaign_ref(old_campaign, self._store, self._config())
            self._emit(webhooks.CONTACT_MOVED, contact, {"sourceCampaign": source})
        for field_id in changed_fields:
            definition = self._store.fields[field_id]
            changed = {
                "customFieldId": field_id,
                "name": definition.name,
                "href": self._config().href(f"custom-fields/{field_id}"),
                "values": list(contact.custom.get(field_id, [])),
            }
            self._emit(webhooks.CUSTOM_FIELD_CHANGED, contact, {"customField": changed})

    def depart(self, contact: Contact, how: Departure) -> None:
        """The contact leaves its list: unsubscribed, bounced, or removed (deleted)."""
        contact.state = how
        contact.touch()
        self._emit(_DEPARTURE_EVENTS[how], contact)

    def _emit(self, event_type: str, contact: Contact, extra: dict[str, Any] | None = None) -> None:
        self._sender.emit(event_type, webhook_contact(contact, self._store, self._config()), extra)
