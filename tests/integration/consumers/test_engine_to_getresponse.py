"""salesforce -> getresponse: Salesforce changes applied to the sync's GetResponse list by the
engine itself (consumers/engine/to_getresponse.py, pending.py), against Postgres and the simulators."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.bus import ConsumerRole
from app.clients.errors import Transient
from app.domain.events import Kind
from consumers.engine.pending import MAX_LOOKUPS
from tests.integration.consumers.harness import (
    Engine,
    EngineFor,
    company,
    country,
    phone,
    unique_email,
    until,
)


async def test_salesforce_lead_created_becomes_a_pending_contact_then_linked_by_the_lookup(engine: Engine) -> None:
    email = unique_email("new")
    lead_id = await engine.sf.create(
        "Lead", FirstName="Ana", LastName="Ruiz", Email=email, Company="Acme", Phone="+48 600 100 200",
        Country="Poland",
    )
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()
    created = engine.events.created(await engine.sf.record(lead_id))

    await engine.to_getresponse.apply(created)

    (create,) = await engine.gr.writes(gr_mark)
    assert (create["method"], create["path"], create["status"]) == ("POST", "/v3/contacts", 202)
    link = await engine.link(email)
    assert link is not None
    assert (link.state, link.salesforce_id, link.getresponse_contact_id) == ("pending", lead_id, None)
    assert link.pending_since is not None and link.next_lookup_at is not None
    assert link.base["company"]["value"] == "Acme" and link.base["phone"]["value"] == "+48600100200"
    assert (await engine.decided(email, created))["*"][:3] == ("created", "salesforce", "getresponse")

    link = await engine.until_linked(email)
    contact = await engine.gr.active(email)
    assert contact is not None
    assert (link.state, link.getresponse_contact_id, link.pending_since) == ("linked", contact["contactId"], None)
    assert contact["name"] == "Ana Ruiz"
    assert (phone(contact), country(contact), company(contact)) == ("+48600100200", "Poland", "Acme")
    assert "linked" in [d.rule for d in await engine.decisions(email)]
    assert len(await engine.gr.writes(gr_mark)) == 1  # the create, nothing after it
    assert await engine.sf.writes(sf_mark) == []

    # Its subscribe webhook, arriving after the lookup, is an echo: nothing to write anywhere.
    gr_mark = await engine.gr.mark()
    await engine.to_salesforce.apply(engine.events.webhook(Kind.SUBSCRIBED, contact))
    assert await engine.gr.writes(gr_mark) == []
    assert await engine.sf.writes(sf_mark) == []


async def test_pending_contact_is_linked_by_its_subscribe_webhook_without_a_salesforce_write(
    engine: Engine,
) -> None:
    email = unique_email("hook")
    lead_id = await engine.sf.create("Lead", FirstName="Bo", LastName="Chan", Email=email, Company="Chan Co")
    await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    contact = await engine.until_on_list(email)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    subscribed = engine.events.webhook(Kind.SUBSCRIBED, contact)

    await engine.to_salesforce.apply(subscribed)

    link = await engine.link(email)
    assert link is not None
    assert (link.state, link.getresponse_contact_id, link.salesforce_id) == ("linked", contact["contactId"], lead_id)
    assert (await engine.decided(email, subscribed))["getresponse_contact_id"][0] == "linked"
    assert await engine.sf.writes(sf_mark) == []  # no second Lead for the person we put there
    assert await engine.gr.writes(gr_mark) == []
    assert [r["Id"] for r in await engine.sf.by_email(email)] == [lead_id]
    assert await engine.lookups.run_once() is False  # nothing left to look up


async def test_a_pending_create_outlasts_getresponse_errors_for_longer_than_the_lookups_allow(
    engine: Engine,
) -> None:
    """A 429 or a 5xx says nothing about whether the contact is on the list: only a real answer
    counts towards giving up, so an outage of GetResponse delays the link but never drops it."""
    email = unique_email("outage")
    lead_id = await engine.sf.create("Lead", FirstName="Eve", LastName="Ong", Email=email, Company="Acme")
    await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    await until(lambda: engine.gr.active(email), what="the create processed")
    gr_mark = await engine.gr.mark()

    searches = {"error_rate": 1.0, "methods": ["GET"], "path_prefix": "/v3/contacts"}
    await engine.gr.faults(**searches, error_statuses=[429])  # "wait 1 seconds"
    asked = datetime.now(UTC)
    link = await engine.look_up_now(email)
    assert (link.state, link.lookup_attempts, link.getresponse_contact_id) == ("pending", 0, None)
    assert link.next_lookup_at is not None and link.next_lookup_at >= asked + timedelta(seconds=1)

    await engine.gr.faults(**searches, error_statuses=[503])
    for _ in range(MAX_LOOKUPS + 1):
        asked = datetime.now(UTC)
        link = await engine.look_up_now(email)
        assert (link.state, link.lookup_attempts) == ("pending", 0)
        assert link.next_lookup_at is not None and link.next_lookup_at > asked  # backs off
    failed = [(c["method"], c["status"]) for c in await engine.gr.calls(gr_mark)]
    # Once the account's reads keep failing, its circuit opens and later lookups wait without a call.
    assert failed[0] == ("GET", 429) and set(failed[1:]) == {("GET", 503)}, failed
    assert len(failed) <= MAX_LOOKUPS + 2

    await engine.gr.faults()
    await asyncio.sleep(0.5)  # the circuit's next probe is due
    link = await engine.look_up_now(email)
    contact = await engine.gr.active(email)
    assert contact is not None
    assert (link.state, link.getresponse_contact_id, link.lookup_attempts) == ("linked", contact["contactId"], 0)
    rules = [d.rule for d in await engine.decisions(email)]
    assert "linked" in rules and "create_rejected" not in rules


async def test_salesforce_changes_made_while_the_create_is_pending_are_written_once_the_contact_appears(
    engine_for: EngineFor, double_opt_in_list: str
) -> None:
    async with engine_for(campaign_id=double_opt_in_list) as engine:
        email = unique_email("held")
        lead_id = await engine.sf.create("Lead", FirstName="Cy", LastName="Dee", Email=email, Company="Acme")
        await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
        (waiting,) = await until(
            lambda: engine.gr.contacts(email, state="unconfirmed"), what="the create processed"
        )

        await engine.sf.update(lead_id, Company="Acme Worldwide", Phone="+1 212 555 0199")
        gr_mark = await engine.gr.mark()
        edited = engine.events.updated(await engine.sf.record(lead_id), "Company", "Phone")
        await engine.to_getresponse.apply(edited)

        link = await engine.link(email)
        assert link is not None and link.state == "pending"
        assert link.pending_changes["values"] == {"company": "Acme Worldwide", "phone": "+12125550199"}
        assert await engine.gr.writes(gr_mark) == []  # nowhere to write yet

        await engine.gr.confirm(waiting["contactId"])
        link = await engine.until_linked(email)

        (update,) = await engine.gr.writes(gr_mark)
        assert (update["method"], update["path"]) == ("POST", f"/v3/contacts/{waiting['contactId']}")
        contact = await engine.gr.active(email, double_opt_in_list)
        assert contact is not None
        assert (company(contact), phone(contact), contact["name"]) == ("Acme Worldwide", "+12125550199", "Cy Dee")
        assert link.pending_changes == {}
        decided = await engine.decided(email)
        assert decided["company"][:3] == ("one_side_changed", "salesforce", "getresponse")
        assert decided["phone"][:3] == ("one_side_changed", "salesforce", "getresponse")


async def test_salesforce_event_that_finds_the_pending_contact_writes_the_held_changes_and_its_own(
    engine_for: EngineFor, double_opt_in_list: str
) -> None:
    async with engine_for(campaign_id=double_opt_in_list) as engine:
        email = unique_email("next")
        lead_id = await engine.sf.create(
            "Lead", FirstName="Di", LastName="Eck", Email=email, Company="Acme", Phone="+48 600 100 200",
            Country="Poland",
        )
        await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
        (waiting,) = await until(
            lambda: engine.gr.contacts(email, state="unconfirmed"), what="the create processed"
        )
        await engine.sf.update(lead_id, Company="Acme Worldwide")
        await engine.to_getresponse.apply(engine.events.updated(await engine.sf.record(lead_id), "Company"))
        await engine.gr.confirm(waiting["contactId"])

        # The next Salesforce change comes before any lookup: its own event finds the contact.
        await engine.sf.update(lead_id, Phone="+48 600 100 999")
        await engine.to_getresponse.apply(engine.events.updated(await engine.sf.record(lead_id), "Phone"))

        link = await engine.link(email)
        assert link is not None
        assert (link.state, link.getresponse_contact_id, link.pending_changes) == ("linked", waiting["contactId"], {})
        contact = await engine.gr.contact(waiting["contactId"])
        assert (company(contact), phone(contact), country(contact)) == ("Acme Worldwide", "+48600100999", "Poland")
        assert (link.base["company"]["value"], link.base["phone"]["value"]) == ("Acme Worldwide", "+48600100999")


async def test_salesforce_edit_writes_only_the_changed_fields_to_getresponse_in_one_update(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.sf.update(person.salesforce_id, Company="Acme Worldwide", Phone="+48 600 100 999")
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()
    edited = engine.events.updated(await engine.sf.record(person.salesforce_id), "Company", "Phone")

    await engine.to_getresponse.apply(edited)

    (update,) = await engine.gr.writes(gr_mark)
    assert (update["method"], update["path"], update["status"]) == ("POST", f"/v3/contacts/{person.contact_id}", 200)
    contact = await engine.gr.active(person.email)
    assert contact is not None
    assert (company(contact), phone(contact)) == ("Acme Worldwide", "+48600100999")
    assert (contact["name"], country(contact)) == ("Pat Lee", "Poland")
    assert await engine.decided(person.email, edited) == {
        "company": ("one_side_changed", "salesforce", "getresponse", "Acme Worldwide"),
        "phone": ("one_side_changed", "salesforce", "getresponse", "+48600100999"),
    }
    assert await engine.sf.writes(sf_mark) == []
    link = await engine.link(person.email)
    assert link is not None and link.base["company"]["value"] == "Acme Worldwide"


async def test_a_failed_getresponse_write_changes_nothing_and_the_redelivered_event_applies_it(
    engine: Engine,
) -> None:
    person = await engine.linked_lead()
    await engine.sf.update(person.salesforce_id, Company="Retry Ltd")
    edited = engine.events.updated(await engine.sf.record(person.salesforce_id), "Company")
    await engine.gr.faults(
        error_rate=1.0, error_statuses=[503], methods=["POST"], path_prefix=f"/v3/contacts/{person.contact_id}"
    )

    with pytest.raises(Transient):
        await engine.to_getresponse.apply(edited)

    link = await engine.link(person.email)
    assert link is not None and link.base["company"]["value"] == "Acme"  # no agreement recorded
    assert not await engine.processed(ConsumerRole.SALESFORCE_TO_GETRESPONSE, edited)
    assert await engine.decisions(person.email, edited) == []

    await engine.gr.faults()
    gr_mark = await engine.gr.mark()
    await engine.to_getresponse.apply(edited)  # the retry topic delivers it again

    assert [(w["method"], w["status"]) for w in await engine.gr.writes(gr_mark)] == [("POST", 200)]
    assert company(await engine.gr.contact(person.contact_id)) == "Retry Ltd"
    link = await engine.link(person.email)
    assert link is not None and link.base["company"]["value"] == "Retry Ltd"
    assert await engine.processed(ConsumerRole.SALESFORCE_TO_GETRESPONSE, edited)


async def test_outbound_message_with_the_values_already_agreed_writes_nothing(engine: Engine) -> None:
    """Outbound Messages carry no origin, so only the content layer can stop this echo."""
    person = await engine.linked_lead()
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()
    echo = engine.events.outbound_message(await engine.sf.record(person.salesforce_id))

    await engine.to_getresponse.apply(echo)

    assert await engine.gr.writes(gr_mark) == []
    assert await engine.sf.writes(sf_mark) == []
    assert await engine.decisions(person.email, echo) == []
    assert await engine.processed(ConsumerRole.SALESFORCE_TO_GETRESPONSE, echo)


async def test_getresponse_webhook_echoing_our_own_getresponse_write_writes_nothing_back(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.sf.update(person.salesforce_id, Company="Echo Ltd")
    await engine.to_getresponse.apply(
        engine.events.updated(await engine.sf.record(person.salesforce_id), "Company")
    )
    contact = await engine.gr.active(person.email)
    assert contact is not None and company(contact) == "Echo Ltd"
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()

    # Our write changed a custom field: GetResponse says so with a webhook.
    await engine.to_salesforce.apply(engine.events.webhook(Kind.REREAD, contact))

    assert await engine.sf.writes(sf_mark) == []
    assert await engine.gr.writes(gr_mark) == []


async def test_a_redelivered_salesforce_event_is_applied_once(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.sf.update(person.salesforce_id, Company="Once Inc")
    edited = engine.events.updated(await engine.sf.record(person.salesforce_id), "Company")
    gr_mark = await engine.gr.mark()
    await engine.to_getresponse.apply(edited)
    assert len(await engine.gr.writes(gr_mark)) == 1
    assert await engine.processed(ConsumerRole.SALESFORCE_TO_GETRESPONSE, edited)
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()
    logged = len(await engine.decisions(person.email))

    await engine.to_getresponse.apply(edited)  # Kafka delivers it again

    assert await engine.gr.calls(gr_mark) == []  # not even a read: the processed-event row says done
    assert await engine.sf.calls(sf_mark) == []
    assert len(await engine.decisions(person.email)) == logged


async def test_second_salesforce_record_with_a_linked_email_is_logged_as_a_duplicate_and_not_synced(
    engine: Engine,
) -> None:
    person = await engine.linked_lead()
    twin_id = await engine.sf.create("Lead", FirstName="Twin", LastName="Lee", Email=person.email, Company="Other")
    gr_mark = await engine.gr.mark()
    created = engine.events.created(await engine.sf.record(twin_id))

    await engine.to_getresponse.apply(created)

    assert await engine.gr.writes(gr_mark) == []
    link = await engine.link(person.email)
    assert link is not None and link.salesforce_id == person.salesforce_id
    assert (await engine.decided(person.email, created))["salesforce_id"][0] == "duplicate"
    contact = await engine.gr.contact(person.contact_id)
    assert (contact["name"], company(contact)) == ("Pat Lee", "Acme")


async def test_salesforce_delete_removes_the_contact_from_the_list_and_undelete_brings_it_back(
    engine: Engine,
) -> None:
    person = await engine.linked_lead()
    await engine.sf.delete(person.salesforce_id)
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()
    deleted = engine.events.deleted(person.salesforce_id)

    await engine.to_getresponse.apply(deleted)

    (removal,) = await engine.gr.writes(gr_mark)
    assert (removal["method"], removal["path"]) == ("DELETE", f"/v3/contacts/{person.contact_id}")
    assert (await engine.gr.contact(person.contact_id))["state"] == "removed"
    link = await engine.link(person.email)
    assert link is not None and link.state == "deleted"
    assert (await engine.decided(person.email, deleted))["*"][:3] == ("deleted", "salesforce", "getresponse")

    # GetResponse reports the removal we made: it must not come back as a marker in Salesforce.
    removed = await engine.gr.contact(person.contact_id)
    await engine.to_salesforce.apply(engine.events.webhook(Kind.REMOVED, removed))
    assert await engine.sf.writes(sf_mark) == []
    assert (await engine.sf.record(person.salesforce_id)).get("GRdeleted__c") is False

    await engine.sf.undelete(person.salesforce_id)
    await engine.to_getresponse.apply(engine.events.undeleted(await engine.sf.record(person.salesforce_id)))
    link = await engine.until_linked(person.email)
    contact = await engine.gr.active(person.email)
    assert contact is not None and contact["contactId"] != person.contact_id
    assert (link.state, link.getresponse_contact_id) == ("linked", contact["contactId"])
    assert (contact["name"], company(contact), phone(contact)) == ("Pat Lee", "Acme", "+48600100200")
    assert await engine.sf.writes(sf_mark) == []


async def test_salesforce_delete_while_the_create_is_pending_keeps_the_person_off_the_list(engine: Engine) -> None:
    # GetResponse is slow to process creates today: the delete comes before the contact is there.
    await engine.gr.configure(create_delay_ms=1500)
    email = unique_email("gone")
    lead_id = await engine.sf.create("Lead", FirstName="Ed", LastName="Gone", Email=email, Company="Acme")
    await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    await engine.sf.delete(lead_id)
    await engine.to_getresponse.apply(engine.events.deleted(lead_id))
    assert await engine.gr.active(email) is None, "the delete came too late for this test"

    # Our create lands after all, and GetResponse says so.
    contact = await engine.until_on_list(email)
    await engine.lookups.run_once()
    await engine.to_salesforce.apply(engine.events.webhook(Kind.SUBSCRIBED, contact))

    assert await engine.sf.by_email(email) == []  # not brought back as a new record
    assert await engine.gr.active(email) is None  # deleted in Salesforce: off the list


async def test_held_changes_that_cannot_be_written_wait_alone_and_the_other_pending_links_are_recorded(
    engine_for: EngineFor, double_opt_in_list: str
) -> None:
    async with engine_for(campaign_id=double_opt_in_list) as engine:
        emails = [unique_email("heldfail"), unique_email("heldok")]
        waiting = {}
        for email in emails:
            lead_id = await engine.sf.create("Lead", FirstName="Cy", LastName="Dee", Email=email, Company="Acme")
            await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
            # The second create, with the first still on its way, is queued for a batch
            # (consumers/engine/batching.py): the lookups send it.
            await engine.look_up_now(email)
            (waiting[email],) = await until(
                lambda email=email: engine.gr.contacts(email, state="unconfirmed"), what="the create processed"
            )
            await engine.sf.update(lead_id, Company=f"Held {email}")
            await engine.to_getresponse.apply(engine.events.updated(await engine.sf.record(lead_id), "Company"))
        failing, fine = (waiting[email]["contactId"] for email in emails)
        await engine.gr.faults(
            error_rate=1.0, error_statuses=[503], methods=["POST"], path_prefix=f"/v3/contacts/{failing}"
        )
        for contact_id in (failing, fine):
            await engine.gr.confirm(contact_id)

        for email in emails:
            await engine.look_up_now(email)  # no exception escapes the round

        stuck, linked = [await engine.link(email) for email in emails]
        assert linked is not None and (linked.state, linked.getresponse_contact_id) == ("linked", fine)
        assert linked.pending_changes == {}
        assert stuck is not None and (stuck.state, stuck.getresponse_contact_id) == ("pending", None)
        assert stuck.pending_changes["values"] == {"company": f"Held {emails[0]}"}
        assert stuck.next_lookup_at is not None and stuck.next_lookup_at > datetime.now(UTC)

        await engine.gr.faults()
        stuck = await engine.look_up_now(emails[0])
        assert (stuck.state, stuck.getresponse_contact_id) == ("linked", failing)
        contact = await engine.gr.active(emails[0], double_opt_in_list)
        assert contact is not None and company(contact) == f"Held {emails[0]}"
