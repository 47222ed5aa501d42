"""One field edited on both sides before either edit was applied: the later source timestamp wins;
within the clock-skew tolerance (1 s) the sync's preferred system wins. Each test applies both
events, in the order that makes the engine meet the conflict, and checks that both sides end with
the winner's value."""

from __future__ import annotations

import pytest

from app.domain.events import Kind
from app.domain.sides import Side
from devstack.defaults import COMPANY_FIELD
from tests.integration.consumers.harness import (
    Engine,
    EngineFor,
    clock_passes,
    company,
    salesforce_time,
)


async def test_same_field_edited_on_both_sides_goes_to_the_later_salesforce_edit(engine: Engine) -> None:
    person = await engine.linked_lead()
    contact = await engine.gr.edit(person.contact_id, name="Gina Lee")
    await engine.sf.advance_clock(5)  # the Salesforce edit comes 5 s after GetResponse's
    await engine.sf.update(person.salesforce_id, FirstName="Sally")
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    polled = engine.events.poll(contact)

    # The GetResponse report comes first: the record's LastModifiedDate, read before the PATCH,
    # shows the newer Salesforce edit, which is re-read, and the later edit wins: nothing to write
    # to Salesforce.
    await engine.to_salesforce.apply(polled)

    assert await engine.sf.writes(sf_mark) == []
    assert (await engine.gr.contact(person.contact_id))["name"] == "Sally Lee"
    assert (await engine.decided(person.email, polled))["name"] == (
        "last_write_wins", "salesforce", "getresponse", "Sally Lee",
    )

    # Then the Salesforce event itself: already agreed, nothing to write.
    gr_mark = await engine.gr.mark()
    await engine.to_getresponse.apply(
        engine.events.updated(await engine.sf.record(person.salesforce_id), "FirstName")
    )
    assert await engine.gr.writes(gr_mark) == []
    assert await engine.sf.writes(sf_mark) == []
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead["FirstName"], lead["LastName"]) == ("Sally", "Lee")


async def test_same_field_edited_on_both_sides_goes_to_the_later_getresponse_edit(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.sf.update(person.salesforce_id, FirstName="Sam")
    salesforce_edit = await engine.sf.record(person.salesforce_id)
    # GetResponse dates edits in whole seconds: wait until its edit can be dated beyond the skew.
    await clock_passes(salesforce_time(salesforce_edit) + engine.sync.skew)
    contact = await engine.gr.edit(person.contact_id, name="Gabriel Lee")
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    edited = engine.events.updated(salesforce_edit, "FirstName")

    # The Salesforce event comes first: the contact, read before writing, holds the later edit.
    await engine.to_getresponse.apply(edited)

    assert await engine.gr.writes(gr_mark) == []
    (patch,) = await engine.sf.writes(sf_mark)
    assert (patch["method"], patch["status"]) == ("PATCH", 204)
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead["FirstName"], lead["LastName"]) == ("Gabriel", "Lee")
    assert (await engine.decided(person.email, edited))["name"] == (
        "last_write_wins", "getresponse", "salesforce", "Gabriel Lee",
    )

    sf_mark = await engine.sf.mark()
    await engine.to_salesforce.apply(engine.events.poll(contact))
    assert await engine.sf.writes(sf_mark) == []
    assert await engine.gr.writes(gr_mark) == []
    assert (await engine.gr.contact(person.contact_id))["name"] == "Gabriel Lee"


async def test_custom_field_edit_without_a_changed_on_is_decided_by_its_webhook_not_by_the_preferred_system(
    engine: Engine,
) -> None:
    """GetResponse does not move changedOn for a custom-field edit, so the Salesforce event cannot
    tell when it happened and leaves the field alone; the edit's own webhook, dated by occurredAt,
    decides it (README, "The merge, field by field")."""
    person = await engine.linked_lead()
    await clock_passes(salesforce_time(await engine.sf.record(person.salesforce_id)))
    await engine.sf.update(person.salesforce_id, Company="Earlier in Salesforce")
    salesforce_edit = await engine.sf.record(person.salesforce_id)
    await clock_passes(salesforce_time(salesforce_edit) + engine.sync.skew)
    contact = await engine.gr.edit(person.contact_id, **{COMPANY_FIELD: "Later in GetResponse"})
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    edited = engine.events.updated(salesforce_edit, "Company")

    await engine.to_getresponse.apply(edited)

    assert await engine.gr.writes(gr_mark) == []  # Salesforce is preferred, yet it does not overwrite
    assert await engine.sf.writes(sf_mark) == []
    _, winner, write_to, _ = (await engine.decided(person.email, edited))["company"]
    assert (winner, write_to) == (None, None)  # left for the webhook to decide

    changed = engine.events.webhook(Kind.REREAD, contact)
    await engine.to_salesforce.apply(changed)

    assert (await engine.sf.record(person.salesforce_id))["Company"] == "Later in GetResponse"
    assert company(await engine.gr.contact(person.contact_id)) == "Later in GetResponse"
    assert await engine.gr.writes(gr_mark) == []
    assert (await engine.decided(person.email, changed))["company"][:3] == (
        "last_write_wins", "getresponse", "salesforce",
    )


@pytest.mark.parametrize("preferred", [Side.SALESFORCE, Side.GETRESPONSE])
async def test_edits_of_one_field_within_the_skew_go_to_the_preferred_system(
    engine_for: EngineFor, preferred: Side
) -> None:
    async with engine_for(preferred_system=preferred) as engine:
        person = await engine.linked_lead()
        # If-Unmodified-Since sees only edits in a later whole second than the one the link knows
        # (the same second is test_salesforce_edit_in_the_same_whole_second_...).
        await clock_passes(salesforce_time(await engine.sf.record(person.salesforce_id)))
        # GetResponse's edit follows Salesforce's at once: its whole-second changedOn lies within
        # a second of Salesforce's LastModifiedDate.
        await engine.sf.update(person.salesforce_id, FirstName="Sal")
        contact = await engine.gr.edit(person.contact_id, name="Gio Lee")
        edited = engine.events.updated(await engine.sf.record(person.salesforce_id), "FirstName")

        await engine.to_getresponse.apply(edited)
        await engine.to_salesforce.apply(engine.events.poll(contact))

        winner = "Sal Lee" if preferred is Side.SALESFORCE else "Gio Lee"
        lead = await engine.sf.record(person.salesforce_id)
        assert f"{lead['FirstName']} {lead['LastName']}" == winner
        assert (await engine.gr.contact(person.contact_id))["name"] == winner
        ties = [d for d in await engine.decisions(person.email) if d.rule == "preferred_on_tie"]
        assert [(d.field, d.winner, d.new_value) for d in ties] == [("name", preferred.value, {"value": winner})]


async def test_salesforce_edit_in_the_same_whole_second_as_the_last_known_one_is_not_lost(engine: Engine) -> None:
    """If-Unmodified-Since compares whole seconds, so a Salesforce edit made within the second of
    the LastModifiedDate the link holds passes the condition of our PATCH unseen."""
    person = await engine.linked_lead()
    await engine.sf.start_of_a_second()
    await engine.sf.update(person.salesforce_id, Phone="+48 600 100 555")
    known = await engine.sf.record(person.salesforce_id)
    await engine.to_getresponse.apply(engine.events.updated(known, "Phone"))
    link = await engine.link(person.email)
    assert link is not None and link.salesforce_modified_at == salesforce_time(known)
    # GetResponse's edit, then Salesforce's a moment later, in the same Salesforce second as the
    # save the link knows: Salesforce's is the later one and Salesforce is preferred, so it wins.
    contact = await engine.gr.edit(person.contact_id, name="Gio Lee")
    await engine.sf.update(person.salesforce_id, FirstName="Sal")
    later = await engine.sf.record(person.salesforce_id)
    assert salesforce_time(later).replace(microsecond=0) == salesforce_time(known).replace(microsecond=0), (
        "the scenario needs both Salesforce saves in one second; the machine stalled between them"
    )

    await engine.to_salesforce.apply(engine.events.poll(contact))
    await engine.to_getresponse.apply(engine.events.updated(later, "FirstName"))

    lead = await engine.sf.record(person.salesforce_id)
    names = (f"{lead['FirstName']} {lead['LastName']}", (await engine.gr.contact(person.contact_id))["name"])
    assert names == ("Sal Lee", "Sal Lee")
