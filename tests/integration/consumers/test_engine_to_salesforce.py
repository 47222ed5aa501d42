"""getresponse -> salesforce: GetResponse changes (webhooks, the poller's reports) applied to
Salesforce by the engine itself (consumers/engine/to_salesforce.py, merge.py), against Postgres and
the simulators."""

from __future__ import annotations

import pytest

from app.bus import ConsumerRole
from app.domain.events import Kind
from devstack.defaults import COMPANY_FIELD, PHONE_FIELD
from tests.integration.consumers.harness import (
    LEAD_SOURCE,
    MARKER_FIELD,
    OUR_CLIENT,
    Engine,
    company,
    phone,
    unique_email,
)


async def test_getresponse_signup_becomes_a_lead_with_the_sync_lead_source(engine: Engine) -> None:
    email = unique_email("form")
    contact_id = await engine.gr.subscribe(email, "Jo Park", **{COMPANY_FIELD: "Parks Ltd"})
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    subscribed = engine.events.webhook(Kind.SUBSCRIBED, await engine.gr.contact(contact_id))

    await engine.to_salesforce.apply(subscribed)

    (create,) = await engine.sf.writes(sf_mark)
    assert (create["method"], create["path"].rsplit("/", 2)[-2:], create["client"]) == (
        "POST", ["sobjects", "Lead"], OUR_CLIENT,
    )
    (lead,) = await engine.sf.by_email(email)
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Jo", "Park", "Parks Ltd")
    assert lead["LeadSource"] == LEAD_SOURCE
    link = await engine.link(email)
    assert link is not None
    assert (link.state, link.salesforce_id, link.getresponse_contact_id) == ("linked", lead["Id"], contact_id)
    assert (await engine.decided(email, subscribed))["*"][:4] == ("created", "getresponse", "salesforce", lead["Id"])
    assert await engine.gr.writes(gr_mark) == []

    # The Outbound Message for the Lead we created (no origin on it) is an echo: nothing goes back.
    await engine.to_getresponse.apply(engine.events.outbound_message(await engine.sf.record(lead["Id"])))
    assert await engine.gr.writes(gr_mark) == []
    assert len(await engine.sf.writes(sf_mark)) == 1


async def test_a_redelivered_getresponse_webhook_is_applied_once(engine: Engine) -> None:
    email = unique_email("again")
    contact_id = await engine.gr.subscribe(email, "Al Berg")
    subscribed = engine.events.webhook(Kind.SUBSCRIBED, await engine.gr.contact(contact_id))
    await engine.to_salesforce.apply(subscribed)
    assert await engine.processed(ConsumerRole.GETRESPONSE_TO_SALESFORCE, subscribed)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()

    await engine.to_salesforce.apply(subscribed)  # GetResponse retries the webhook: the same id

    assert await engine.sf.calls(sf_mark) == []
    assert await engine.gr.calls(gr_mark) == []
    assert len(await engine.sf.by_email(email)) == 1


async def test_getresponse_signup_of_someone_already_in_salesforce_links_to_their_record(engine: Engine) -> None:
    email = unique_email("known")
    lead_id = await engine.sf.create("Lead", FirstName="Kim", LastName="Ode", Email=email, Company="Ode AG")
    contact_id = await engine.gr.subscribe(email, "Kim Ode", **{PHONE_FIELD: "+48600100300"})
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    subscribed = engine.events.webhook(Kind.SUBSCRIBED, await engine.gr.contact(contact_id))

    await engine.to_salesforce.apply(subscribed)

    assert [r["Id"] for r in await engine.sf.by_email(email)] == [lead_id]  # no second record
    link = await engine.link(email)
    assert link is not None
    assert (link.state, link.salesforce_id, link.getresponse_contact_id) == ("linked", lead_id, contact_id)
    # Each side had a value the other lacked: both are filled, one write each.
    lead, contact = await engine.sf.record(lead_id), await engine.gr.contact(contact_id)
    assert (lead["Phone"], company(contact)) == ("+48600100300", "Ode AG")
    assert [w["method"] for w in await engine.sf.writes(sf_mark)] == ["PATCH"]
    assert [w["method"] for w in await engine.gr.writes(gr_mark)] == ["POST"]
    decided = await engine.decided(email, subscribed)
    assert decided["phone"][:3] == ("fill_empty", "getresponse", "salesforce")
    assert decided["company"][:3] == ("fill_empty", "salesforce", "getresponse")


async def test_getresponse_name_edit_reported_by_the_poller_is_one_conditional_patch_of_the_name(
    engine: Engine,
) -> None:
    person = await engine.linked_lead()
    contact = await engine.gr.edit(person.contact_id, name="Patricia Lee-Smith")
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    polled = engine.events.poll(contact)

    await engine.to_salesforce.apply(polled)

    (patch,) = await engine.sf.writes(sf_mark)
    assert (patch["method"], patch["status"], patch["client"]) == ("PATCH", 204, OUR_CLIENT)
    assert patch["path"].endswith(f"/sobjects/Lead/{person.salesforce_id}")
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead["FirstName"], lead["LastName"]) == ("Patricia", "Lee-Smith")
    assert (lead["Company"], lead["Phone"], lead["Country"]) == ("Acme", "+48 600 100 200", "Poland")
    assert await engine.decided(person.email, polled) == {
        "name": ("one_side_changed", "getresponse", "salesforce", "Patricia Lee-Smith"),
    }
    assert await engine.gr.writes(gr_mark) == []


async def test_getresponse_custom_field_edit_reaches_salesforce_through_its_webhook(engine: Engine) -> None:
    """Custom-field edits do not move changedOn; the webhook's occurredAt dates them."""
    person = await engine.linked_lead()
    contact = await engine.gr.edit(person.contact_id, **{COMPANY_FIELD: "Acme Worldwide"})
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    changed = engine.events.webhook(Kind.REREAD, contact)

    await engine.to_salesforce.apply(changed)

    (patch,) = await engine.sf.writes(sf_mark)
    assert patch["method"] == "PATCH"
    assert (await engine.sf.record(person.salesforce_id))["Company"] == "Acme Worldwide"
    assert await engine.decided(person.email, changed) == {
        "company": ("one_side_changed", "getresponse", "salesforce", "Acme Worldwide"),
    }
    assert await engine.gr.writes(gr_mark) == []


@pytest.mark.parametrize(("leave", "kind"), [("unsubscribe", Kind.UNSUBSCRIBED), ("remove", Kind.REMOVED)])
async def test_leaving_the_getresponse_list_sets_the_marker_in_salesforce_and_never_deletes(
    engine: Engine, leave: str, kind: Kind
) -> None:
    person = await engine.linked_lead()
    await getattr(engine.gr, leave)(person.contact_id)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    left = engine.events.webhook(kind, await engine.gr.contact(person.contact_id))

    await engine.to_salesforce.apply(left)

    (patch,) = await engine.sf.writes(sf_mark)
    assert patch["method"] == "PATCH"
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead[MARKER_FIELD], lead["HasOptedOutOfEmail"], lead["IsDeleted"]) == (True, True, False)
    link = await engine.link(person.email)
    assert link is not None and link.removed_from_list and link.state == "linked"
    assert (await engine.decided(person.email, left))[f"{MARKER_FIELD},HasOptedOutOfEmail"][:3] == (
        "left_list", "getresponse", "salesforce",
    )

    # Later Salesforce edits are not sent to someone who left: that would put them back.
    await engine.sf.update(person.salesforce_id, Company="Still Acme")
    edited = engine.events.updated(await engine.sf.record(person.salesforce_id), "Company")
    await engine.to_getresponse.apply(edited)
    assert await engine.gr.writes(gr_mark) == []
    assert (await engine.decided(person.email, edited))["*"][0] == "not_on_list"


async def test_resubscribing_in_getresponse_clears_the_marker_and_links_the_new_contact(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.gr.unsubscribe(person.contact_id)
    await engine.to_salesforce.apply(
        engine.events.webhook(Kind.UNSUBSCRIBED, await engine.gr.contact(person.contact_id))
    )
    new_contact_id = await engine.gr.resubscribe(person.contact_id)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    back = engine.events.webhook(Kind.SUBSCRIBED, await engine.gr.contact(new_contact_id))

    await engine.to_salesforce.apply(back)

    (patch,) = await engine.sf.writes(sf_mark)
    assert patch["method"] == "PATCH"
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead[MARKER_FIELD], lead["HasOptedOutOfEmail"]) == (False, False)
    assert [r["Id"] for r in await engine.sf.by_email(person.email)] == [person.salesforce_id]
    link = await engine.link(person.email)
    assert link is not None
    assert (link.getresponse_contact_id, link.removed_from_list, link.state) == (new_contact_id, False, "linked")
    assert (await engine.decided(person.email, back))[f"{MARKER_FIELD},HasOptedOutOfEmail"][0] == "back_on_list"
    assert await engine.gr.writes(gr_mark) == []


async def test_salesforce_record_changed_since_our_last_read_is_reread_and_merged_before_the_write(
    engine: Engine,
) -> None:
    person = await engine.linked_lead()
    # A Salesforce edit whose event has not reached us yet, in a later whole second than the
    # record's last known LastModifiedDate (If-Unmodified-Since compares whole seconds).
    await engine.sf.advance_clock(2)
    await engine.sf.update(person.salesforce_id, Phone="+48 600 100 777")
    contact = await engine.gr.edit(person.contact_id, name="Pat Lee-Ng")
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    polled = engine.events.poll(contact)

    await engine.to_salesforce.apply(polled)

    patches = [(w["method"], w["status"]) for w in await engine.sf.writes(sf_mark)]
    # Its LastModifiedDate, read before the conditional PATCH, shows the edit: re-read, merged,
    # written once.
    assert patches == [("PATCH", 204)]
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead["FirstName"], lead["LastName"], lead["Phone"]) == ("Pat", "Lee-Ng", "+48 600 100 777")
    (update,) = await engine.gr.writes(gr_mark)
    assert update["path"] == f"/v3/contacts/{person.contact_id}"
    contact = await engine.gr.contact(person.contact_id)
    assert (contact["name"], phone(contact)) == ("Pat Lee-Ng", "+48600100777")
    decided = await engine.decided(person.email, polled)
    assert decided["name"][:3] == ("one_side_changed", "getresponse", "salesforce")
    assert decided["phone"][:3] == ("one_side_changed", "salesforce", "getresponse")


async def test_getresponse_email_change_reaches_salesforce_and_keeps_the_person_linked(engine: Engine) -> None:
    person = await engine.linked_lead()
    new_email = unique_email("moved")
    contact = await engine.gr.edit(person.contact_id, email=new_email)
    changed = engine.events.webhook(Kind.REREAD, contact)

    await engine.to_salesforce.apply(changed)

    assert (await engine.sf.record(person.salesforce_id))["Email"] == new_email
    # The link follows the new email, so the next event and a later lookup find the person by it.
    assert (await engine.link(person.email)) is None
    assert (await engine.decided(new_email, changed))["email"][:3] == (
        "one_side_changed", "getresponse", "salesforce",
    )
    # The next Salesforce change still reaches the same contact.
    await engine.sf.update(person.salesforce_id, Company="Moved Ltd")
    gr_mark = await engine.gr.mark()
    await engine.to_getresponse.apply(engine.events.updated(await engine.sf.record(person.salesforce_id), "Company"))
    assert [w["path"] for w in await engine.gr.writes(gr_mark)] == [f"/v3/contacts/{person.contact_id}"]
    assert company(await engine.gr.contact(person.contact_id)) == "Moved Ltd"


async def test_an_email_given_up_in_getresponse_is_free_for_a_new_salesforce_lead(engine: Engine) -> None:
    person = await engine.linked_lead()
    contact = await engine.gr.edit(person.contact_id, email=unique_email("moved"))
    await engine.to_salesforce.apply(engine.events.webhook(Kind.REREAD, contact))
    # Someone else now has the address Pat gave up.
    newcomer_id = await engine.sf.create("Lead", FirstName="Nora", LastName="New", Email=person.email, Company="N")
    gr_mark = await engine.gr.mark()
    created = engine.events.created(await engine.sf.record(newcomer_id))

    await engine.to_getresponse.apply(created)

    assert [(w["method"], w["path"]) for w in await engine.gr.writes(gr_mark)] == [("POST", "/v3/contacts")]
    link = await engine.until_linked(person.email)
    assert link.salesforce_id == newcomer_id
    newcomer = await engine.gr.active(person.email)
    assert newcomer is not None and newcomer["name"] == "Nora New"


@pytest.mark.parametrize("kind", [Kind.UNSUBSCRIBED, Kind.REMOVED])
async def test_a_removal_of_a_contact_getresponse_still_has_on_the_list_writes_nothing(
    engine: Engine, kind: Kind
) -> None:
    person = await engine.linked_lead()
    sf_mark = await engine.sf.mark()
    forged = engine.events.webhook(kind, await engine.gr.contact(person.contact_id))  # still subscribed

    await engine.to_salesforce.apply(forged)

    assert await engine.sf.writes(sf_mark) == []
    lead = await engine.sf.record(person.salesforce_id)
    assert (lead[MARKER_FIELD], lead["HasOptedOutOfEmail"]) == (False, False)
    link = await engine.link(person.email)
    assert link is not None and not link.removed_from_list
    assert (await engine.decided(person.email, forged))["*"][0] == "removal_unconfirmed"


async def test_a_removal_naming_another_contact_never_reaches_a_person_by_email(engine: Engine) -> None:
    person = await engine.linked_lead()
    other = await engine.gr.contact(person.contact_id)
    other = {**other, "contactId": "zzNotOurs", "id": "zzNotOurs"}
    sf_mark = await engine.sf.mark()

    await engine.to_salesforce.apply(engine.events.webhook(Kind.UNSUBSCRIBED, other))

    assert await engine.sf.writes(sf_mark) == []
    link = await engine.link(person.email)
    assert link is not None and not link.removed_from_list
