"""What the sync-engine tests share: the engine wired to a database of the test's own and to both
vendors' simulators, people acting in each vendor's UI, the change events the inbound side would
publish, and what a test reads back (the simulators' records and call logs, links, decisions).

No Kafka and no subprocess: a test builds the `ChangeEvent` that the api or the poller would have
put on Kafka and hands it to `SalesforceToGetResponse.apply` or `GetResponseToSalesforce.apply`
itself, so a failure points at the engine. The events take the shapes the inbound code gives them
(app/inbound/change_events.py, outbound_messages.py, webhooks.py; consumers/poller.py), with the
values the simulators really hold.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import ConsumerRole
from app.clients.getresponse_formats import parse_datetime as parse_getresponse_datetime
from app.clients.salesforce_formats import parse_datetime as parse_salesforce_datetime
from app.clients.vendors import Vendors
from app.control import getresponse_connect, salesforce_connect, syncs
from app.control.getresponse_connect import GetResponseConnect
from app.control.salesforce_connect import ClientCredentialsConnect
from app.control.syncs import SyncCreate
from app.crypto import SecretBox
from app.db import processed_events
from app.db.models import ContactLink, Decision, Sync
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.domain.sides import ObjectType, Side
from app.settings import Environment, Settings
from consumers.engine.pending import PendingLookups
from consumers.engine.to_getresponse import SalesforceToGetResponse
from consumers.engine.to_salesforce import GetResponseToSalesforce
from consumers.jobs.first_sync import FirstSync
from consumers.jobs.resync import Resync
from devstack.defaults import COMPANY_FIELD, COUNTRY_FIELD, DEMO_MAPPING, MAIN_LIST, PHONE_FIELD
from tests.fixtures.simulators import GR_API_KEY, SF_CLIENT_ID, SF_CLIENT_SECRET

T = TypeVar("T")

OUR_CLIENT = "sfgr-sync"  # Sforce-Call-Options client of our Salesforce writes (Settings)
MARKER_FIELD = "GRdeleted__c"
LEAD_SOURCE = "GetResponse"

# What this directory sets on top of the simulators' starting configuration at every reset:
# GetResponse creates processed within 100 ms. Neither simulator delivers anything (no webhook,
# Outbound Message or CDC URL is configured): the tests hand the engine its events.
GETRESPONSE_CONFIG: dict[str, Any] = {"create_delay_ms": 100}
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})


def unique_email(tag: str = "p") -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.com"


async def until(
    check: Callable[[], Awaitable[T | None]], *, within: float = 10.0, what: str = "the condition"
) -> T:
    """Poll `check` until it answers something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {within} s")
        await asyncio.sleep(0.02)


async def clock_passes(instant: datetime, *, within: float = 5.0) -> None:
    """Wait until the wall clock, read in whole seconds as GetResponse stamps edits, is later than
    `instant`: only then can an edit made now be dated after it."""

    async def later() -> bool:
        return datetime.now(UTC).replace(microsecond=0) > instant

    await until(later, within=within, what=f"a whole second after {instant.isoformat()}")


# --- the vendors, as people in their UIs and as call logs ------------------------------------------


class _Simulator:
    """What both simulators' control APIs offer: configuration, faults and the vendor-API calls
    received, of which `writes_under` names the record writes."""

    writes_under = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    async def configure(self, **config: Any) -> None:
        await self._call("POST", "/_sim/config", json=config)

    async def faults(self, **faults: Any) -> None:
        """Replace the injected faults (none: clear them)."""
        await self._call("POST", "/_sim/faults", json=faults)

    async def calls(self, since: int = 0) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = await self._call("GET", "/_sim/calls", params={"since": since})
        return calls

    async def mark(self) -> int:
        """The sequence number of the last call so far: `writes(since=mark)` is what came after."""
        calls = await self.calls()
        return int(calls[-1]["seq"]) if calls else 0

    async def writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [
            call
            for call in await self.calls(since)
            if call["method"] in WRITE_METHODS and call["path"].startswith(self.writes_under)
        ]


class SalesforceOrg(_Simulator):
    """The simulated org: edits as a person makes them in its UI (`/_sim/records`), its records
    (deleted ones too), and its record clock."""

    writes_under = "/services/data/"  # rows and sObject Collections

    async def create(self, object_type: str = "Lead", **fields: Any) -> str:
        record_id: str = (await self._call("POST", f"/_sim/records/{object_type}", 201, json=fields))["id"]
        return record_id

    async def update(self, record_id: str, object_type: str = "Lead", **fields: Any) -> None:
        await self._call("PATCH", f"/_sim/records/{object_type}/{record_id}", json=fields)

    async def delete(self, record_id: str, object_type: str = "Lead") -> None:
        await self._call("DELETE", f"/_sim/records/{object_type}/{record_id}")

    async def undelete(self, record_id: str, object_type: str = "Lead") -> None:
        await self._call("POST", f"/_sim/records/{object_type}/{record_id}/undelete")

    async def record(self, record_id: str, object_type: str = "Lead") -> dict[str, Any]:
        record: dict[str, Any] = await self._call("GET", f"/_sim/records/{object_type}/{record_id}")
        return record

    async def by_email(self, email: str) -> list[dict[str, Any]]:
        """Every Lead and Contact with this email that is not in the Recycle Bin."""
        return [
            record
            for object_type in ("Lead", "Contact")
            for record in await self._call("GET", f"/_sim/records/{object_type}")
            if (record.get("Email") or "").lower() == email.lower() and not record.get("IsDeleted")
        ]

    async def advance_clock(self, seconds: float) -> datetime:
        """Later saves are stamped `seconds` later: a Salesforce edit made "after" another without
        waiting for the wall clock. Returns the org's time now."""
        moved = await self._call("POST", "/_sim/clock", json={"advance_seconds": seconds})
        return parse_salesforce_datetime(moved["now"])

    async def start_of_a_second(self) -> datetime:
        """Move the org's clock to just after its next whole second, so that saves made at once
        after this share one whole second (what If-Unmodified-Since compares)."""
        now = await self.advance_clock(0.001)
        return await self.advance_clock(1.0 - now.microsecond / 1_000_000 + 0.005)


class GetResponseAccount(_Simulator):
    """The simulated account: people subscribing, editing and leaving (`/_sim/contacts`), its
    contacts in every state, and its lists."""

    writes_under = "/v3/contacts"  # creates, updates, deletes, batches

    async def subscribe(
        self, email: str, name: str | None = None, *, campaign_id: str = MAIN_LIST, **custom: str
    ) -> str:
        """A form signup: visible at once. `custom` maps custom-field ids to values."""
        body: dict[str, Any] = {"email": email, "campaignId": campaign_id, "name": name}
        body["customFieldValues"] = [{"customFieldId": k, "value": [v]} for k, v in custom.items()]
        contact_id: str = (await self._call("POST", "/_sim/contacts", 201, json=body))["contactId"]
        return contact_id

    async def edit(
        self, contact_id: str, *, name: str | None = None, email: str | None = None, **custom: str | None
    ) -> dict[str, Any]:
        """An edit in the web UI (a custom field given None is cleared); the contact afterwards."""
        body: dict[str, Any] = {k: v for k, v in (("name", name), ("email", email)) if v is not None}
        if custom:
            body["customFieldValues"] = [
                {"customFieldId": k, "value": [v] if v is not None else []} for k, v in custom.items()
            ]
        contact: dict[str, Any] = await self._call("PATCH", f"/_sim/contacts/{contact_id}", json=body)
        return contact

    async def unsubscribe(self, contact_id: str) -> None:
        await self._call("POST", f"/_sim/contacts/{contact_id}/unsubscribe")

    async def remove(self, contact_id: str) -> None:
        """Deleted in the web UI."""
        await self._call("DELETE", f"/_sim/contacts/{contact_id}", 204)

    async def resubscribe(self, contact_id: str) -> str:
        """The person subscribes again: GetResponse makes a new contact, with a new id."""
        new_id: str = (await self._call("POST", f"/_sim/contacts/{contact_id}/resubscribe", 201))["contactId"]
        return new_id

    async def confirm(self, contact_id: str) -> None:
        """The person clicks the double opt-in link."""
        await self._call("POST", f"/_sim/contacts/{contact_id}/confirm")

    async def contact(self, contact_id: str) -> dict[str, Any]:
        contact: dict[str, Any] = await self._call("GET", f"/_sim/contacts/{contact_id}")
        return contact

    async def contacts(self, email: str, *, state: str | None = None) -> list[dict[str, Any]]:
        """The email's contacts in every state (pending, unconfirmed, active, unsubscribed, ...)."""
        params = {"email": email, **({"state": state} if state else {})}
        contacts: list[dict[str, Any]] = await self._call("GET", "/_sim/contacts", params=params)
        return contacts

    async def active(self, email: str, campaign_id: str = MAIN_LIST) -> dict[str, Any] | None:
        """The contact on the list with this email, as the API would show it, or None."""
        found = [c for c in await self.contacts(email, state="active") if c["campaign"]["campaignId"] == campaign_id]
        assert len(found) <= 1, found
        return found[0] if found else None

    async def create_list(self, name: str, *, double_opt_in: bool = False) -> str:
        """A list made by the account's admin (vendor API); with double opt-in, API-created contacts
        stay invisible until the person confirms."""
        body: dict[str, Any] = {"name": name, **({"optinTypes": {"api": "double"}} if double_opt_in else {})}
        headers = {"X-Auth-Token": f"api-key {GR_API_KEY}"}
        campaign_id: str = (await self._call("POST", "/v3/campaigns", 201, json=body, headers=headers))["campaignId"]
        return campaign_id


def custom(contact: dict[str, Any], field_id: str) -> str | None:
    """One custom field's value of a contact as the simulator shows it."""
    for entry in contact.get("customFieldValues", []):
        if entry["customFieldId"] == field_id:
            values = entry.get("values") or entry.get("value") or []
            return str(values[0]) if values else None
    return None


def phone(contact: dict[str, Any]) -> str | None:
    return custom(contact, PHONE_FIELD)


def country(contact: dict[str, Any]) -> str | None:
    return custom(contact, COUNTRY_FIELD)


def company(contact: dict[str, Any]) -> str | None:
    return custom(contact, COMPANY_FIELD)


# --- the events the inbound side publishes ---------------------------------------------------------

_sequence = itertools.count(1)


def salesforce_time(record: dict[str, Any]) -> datetime:
    return parse_salesforce_datetime(record["LastModifiedDate"])


def getresponse_time(contact: dict[str, Any]) -> datetime:
    return parse_getresponse_datetime(contact["changedOn"])


class Events:
    """ChangeEvents for the sync's connections, as the api (deliveries) and the poller publish them."""

    def __init__(self, sync: SyncConfig) -> None:
        self.sync = sync

    def _salesforce(
        self, kind: Kind, transport: Transport, object_type: str, record_id: str, **values: Any
    ) -> ChangeEvent:
        fields: dict[str, Any] = values.pop("fields", {})
        email = fields.get("Email")
        prefix = "cdc" if transport is Transport.CHANGE_DATA_CAPTURE else "om"
        return ChangeEvent(
            event_id=f"{prefix}:{next(_sequence)}:{uuid.uuid4().hex[:8]}",
            source=Source.SALESFORCE,
            transport=transport,
            kind=kind,
            connection_id=str(self.sync.salesforce_connection_id),
            object_type=object_type,
            record_id=record_id,
            email=email if isinstance(email, str) and email else None,
            fields=fields,
            **values,
        )

    def created(self, record: dict[str, Any], object_type: str = "Lead") -> ChangeEvent:
        """A CDC CREATE: every non-empty field, flattened, dated by the commit."""
        return self._salesforce(
            Kind.CREATED, Transport.CHANGE_DATA_CAPTURE, object_type, record["Id"],
            fields=_non_empty(record), source_timestamp=salesforce_time(record),
        )

    def updated(self, record: dict[str, Any], *changed: str, object_type: str = "Lead") -> ChangeEvent:
        """A CDC UPDATE of the `changed` fields (LastModifiedDate always among them)."""
        names = [*changed, "LastModifiedDate"]
        return self._salesforce(
            Kind.UPDATED, Transport.CHANGE_DATA_CAPTURE, object_type, record["Id"],
            fields={name: record.get(name) for name in names}, changed_fields=names,
            source_timestamp=salesforce_time(record),
        )

    def deleted(self, record_id: str, object_type: str = "Lead") -> ChangeEvent:
        return self._salesforce(
            Kind.DELETED, Transport.CHANGE_DATA_CAPTURE, object_type, record_id,
            source_timestamp=datetime.now(UTC),
        )

    def undeleted(self, record: dict[str, Any], object_type: str = "Lead") -> ChangeEvent:
        return self._salesforce(
            Kind.UNDELETED, Transport.CHANGE_DATA_CAPTURE, object_type, record["Id"],
            fields=_non_empty(record), source_timestamp=salesforce_time(record),
        )

    def outbound_message(self, record: dict[str, Any], object_type: str = "Lead") -> ChangeEvent:
        """An Outbound Message notification: the record's state as text, with no origin."""
        names = ["Email", "FirstName", "LastName", "Phone", "LeadSource", "HasOptedOutOfEmail",
                 MARKER_FIELD, "LastModifiedDate", "SystemModstamp"]
        names += ["Company", "Country", "IsConverted"] if object_type == "Lead" else ["MailingCountry"]
        fields = {name: _soap_text(record.get(name)) for name in names}
        return self._salesforce(
            Kind.CHANGED, Transport.OUTBOUND_MESSAGE, object_type, record["Id"],
            fields=fields, source_timestamp=salesforce_time(record),
        )

    def webhook(self, kind: Kind, contact: dict[str, Any]) -> ChangeEvent:
        """A GetResponse webhook sent now about `contact` (as `/_sim/contacts` shows it):
        contact_added is `subscribed`, a custom-field or email change `reread`, leaving the list
        `unsubscribed` or `removed`. `occurredAt` has whole seconds."""
        return ChangeEvent(
            event_id=f"gr-webhook:{uuid.uuid4().hex}",
            source=Source.GETRESPONSE,
            transport=Transport.WEBHOOK,
            kind=kind,
            connection_id=str(self.sync.getresponse_connection_id),
            object_type="contact",
            record_id=contact["contactId"],
            campaign_id=contact["campaign"]["campaignId"],
            email=contact["email"],
            fields={"email": contact["email"], "name": contact["name"]},
            source_timestamp=datetime.now(UTC).replace(microsecond=0),
            detail={"type": kind.value},
        )

    def poll(self, contact: dict[str, Any]) -> ChangeEvent:
        """What the poller publishes for a contact whose changedOn moved."""
        return ChangeEvent(
            event_id=f"gr-poll:{contact['contactId']}:{contact['changedOn']}",
            source=Source.GETRESPONSE,
            transport=Transport.POLLER,
            kind=Kind.REREAD,
            connection_id=str(self.sync.getresponse_connection_id),
            sync_id=str(self.sync.id),
            object_type="contact",
            record_id=contact["contactId"],
            campaign_id=self.sync.campaign_id,
            email=contact["email"],
            fields={"email": contact["email"], "name": contact["name"]},
            source_timestamp=getresponse_time(contact),
            origin="poller",
        )


def _non_empty(record: dict[str, Any]) -> dict[str, Any]:
    """What CDC CREATE and UNDELETE carry: the fields that have a value (api-contracts A2)."""
    return {k: v for k, v in record.items() if v not in (None, "", False) and k != "attributes"}


def _soap_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the engine under test -------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone linked on both sides."""

    email: str
    salesforce_id: str
    contact_id: str


class Engine:
    """Both directions of the engine, the pending-create lookups and the jobs, on the test's
    database and the simulators, with the sync they serve."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vendors: Vendors,
        directory: SyncDirectory,
        sync: SyncConfig,
        sf: SalesforceOrg,
        gr: GetResponseAccount,
        database: AsyncEngine,
    ) -> None:
        self.database = database
        self.sessions = sessions
        self.vendors = vendors
        self.directory = directory
        self.sync = sync
        self.sf = sf
        self.gr = gr
        self.events = Events(sync)
        self.to_getresponse = SalesforceToGetResponse(sessions=sessions, syncs=directory, vendors=vendors)
        self.to_salesforce = GetResponseToSalesforce(sessions=sessions, syncs=directory, vendors=vendors)
        self.lookups = PendingLookups(sessions=sessions, syncs=directory, vendors=vendors)
        self.first_sync = FirstSync(sessions=sessions, vendors=vendors)
        self.resync = Resync(sessions=sessions, vendors=vendors)

    # --- the database, read back ---------------------------------------------------------------

    async def link(self, email: str) -> ContactLink | None:
        async with self.sessions() as session:
            link: ContactLink | None = await session.scalar(
                select(ContactLink).where(
                    ContactLink.sync_id == self.sync.id, ContactLink.email_normalized == email.lower()
                )
            )
            return link

    async def all_links(self) -> list[ContactLink]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ContactLink).where(ContactLink.sync_id == self.sync.id).order_by(ContactLink.id)
            )
            return list(rows)

    async def decisions(self, email: str, event: ChangeEvent | str | None = None) -> list[Decision]:
        """The person's decision log, oldest first; only what `event` (or a job's event id) decided
        when given."""
        statement = (
            select(Decision)
            .join(ContactLink, ContactLink.id == Decision.link_id)
            .where(ContactLink.sync_id == self.sync.id, ContactLink.email_normalized == email.lower())
            .order_by(Decision.id)
        )
        if event is not None:
            statement = statement.where(
                Decision.event_id == (event.event_id if isinstance(event, ChangeEvent) else event)
            )
        async with self.sessions() as session:
            return list(await session.scalars(statement))

    async def decided(self, email: str, event: ChangeEvent | str | None = None) -> dict[str, tuple[Any, ...]]:
        """Field -> (rule, winner, write_to, new value) of the person's decisions (the last per field)."""
        return {
            d.field: (d.rule, d.winner, d.write_to, (d.new_value or {}).get("value"))
            for d in await self.decisions(email, event)
        }

    async def processed(self, role: ConsumerRole, event: ChangeEvent) -> bool:
        """Whether `role` recorded `event` as applied (its processed-event row)."""
        async with self.sessions() as session:
            return await processed_events.already_processed(session, role, f"{self.sync.id}:{event.event_id}")

    async def configure(self, **values: Any) -> None:
        """Change the sync's row (as PATCH /v1/syncs/{id} would) and let the engine see it now."""
        async with transaction(self.sessions) as session:
            row = await session.get(Sync, self.sync.id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
        self.directory.invalidate()
        found = await self.directory.by_id(self.sync.id)
        assert found is not None
        self.sync = found
        self.events = Events(found)

    # --- waiting for GetResponse's asynchronous creates ----------------------------------------

    async def until_linked(self, email: str, *, within: float = 10.0) -> ContactLink:
        """Run the pending-create lookups until the person's link has its GetResponse id."""

        async def linked() -> ContactLink | None:
            await self.lookups.run_once()
            link = await self.link(email)
            return link if link is not None and link.getresponse_contact_id else None

        return await until(linked, within=within, what=f"GetResponse id for {email}")

    async def look_up_now(self, email: str) -> ContactLink:
        """Run the pending-create lookups once with the person's next lookup due now, as if its
        wait had passed (waits grow to half a minute); the link afterwards."""
        async with transaction(self.sessions) as session:
            await session.execute(
                update(ContactLink)
                .where(ContactLink.sync_id == self.sync.id, ContactLink.email_normalized == email.lower())
                .values(next_lookup_at=datetime.now(UTC))
            )
        await self.lookups.run_once()
        link = await self.link(email)
        assert link is not None
        return link

    async def until_on_list(self, email: str, *, within: float = 10.0) -> dict[str, Any]:
        async def on_list() -> dict[str, Any] | None:
            return await self.gr.active(email, self.sync.campaign_id)

        return await until(on_list, within=within, what=f"{email} on list {self.sync.campaign_id}")

    # --- people, ready for a test ---------------------------------------------------------------

    async def linked_lead(self, email: str | None = None, **fields: Any) -> Person:
        """A Lead created in Salesforce, put on the list by the engine and linked."""
        email = email or unique_email("lead")
        values = {"FirstName": "Pat", "LastName": "Lee", "Company": "Acme", "Phone": "+48 600 100 200",
                  "Country": "Poland", **fields}
        lead_id = await self.sf.create("Lead", Email=email, **values)
        await self.to_getresponse.apply(self.events.created(await self.sf.record(lead_id)))
        link = await self.until_linked(email)
        assert link.getresponse_contact_id is not None
        return Person(email, lead_id, link.getresponse_contact_id)


# `async with engine_for(preferred_system=Side.GETRESPONSE) as engine:` (the conftest's fixture)
EngineFor = Callable[..., AbstractAsyncContextManager[Engine]]


@asynccontextmanager
async def running_engine(
    database_url: str, salesforce_url: str, getresponse_url: str, **sync: Any
) -> AsyncIterator[Engine]:
    """On an empty, migrated database: connect the simulated org and account the way an operator
    does (app/control services, as devstack/stack.py does), create a sync of the demo mapping
    (`sync` overrides its settings), and yield the engine serving it."""
    settings = Settings(
        environment=Environment.TEST,
        database_url=database_url,
        salesforce_client_id=OUR_CLIENT,
        log_format="console",
        # An account's circuit opens as in production; its probe comes within a fraction of a second.
        breaker_open_s=0.2,
        breaker_max_open_s=0.4,
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)
    vendors = Vendors(settings, sessions)
    sf, gr = SalesforceOrg(salesforce_url), GetResponseAccount(getresponse_url)
    try:
        box = SecretBox(settings)
        async with sessions() as session:
            await salesforce_connect.connect_client_credentials(
                session,
                box,
                settings,
                ClientCredentialsConnect(
                    client_id=SF_CLIENT_ID,
                    client_secret=SF_CLIENT_SECRET,
                    my_domain_url=salesforce_url,
                ),
                public_base="http://sfgr.test",
            )
            await getresponse_connect.connect_getresponse(
                session,
                box,
                GetResponseConnect(
                    api_key=GR_API_KEY,
                    api_base_url=f"{getresponse_url}/v3",
                    # An account id of the test's own: the process keeps one rate limiter per
                    # account, and a test must not inherit another's budget or pauses.
                    account_id=f"acct{uuid.uuid4().hex[:8]}",
                ),
                public_base="http://sfgr.test",
                hosts=vendors.hosts,
            )
            options: dict[str, Any] = {
                "name": "engine test",
                "campaign_id": MAIN_LIST,
                "salesforce_objects": [ObjectType.LEAD, ObjectType.CONTACT],
                "create_as": ObjectType.LEAD,
                "preferred_system": Side.SALESFORCE,
                "mapping": DEMO_MAPPING,
                "lead_source": LEAD_SOURCE,
                "marker_field": MARKER_FIELD,
                "set_opt_out": True,
                **sync,
            }
            created = await syncs.create_sync(session, vendors, SyncCreate(**options))
        directory = SyncDirectory(sessions)
        config = await directory.by_id(created.id)
        assert config is not None
        yield Engine(sessions, vendors, directory, config, sf, gr, engine)
    finally:
        await vendors.close()
        await sf.close()
        await gr.close()
        await engine.dispose()
