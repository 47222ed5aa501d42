"""GetResponse calls per change, counted from the simulator's call log: what the engine already
knows costs no call (consumers/engine/echoes.py), pending creates share one search per list and
are not read (pending.py), and a burst of creates goes out in batches (batching.py). A value that
differs from the base is still read before anything is written."""

from __future__ import annotations

import asyncio
from typing import Any

from app.domain.events import Kind
from devstack.defaults import COMPANY_FIELD, PHONE_FIELD
from tests.integration.consumers.harness import Engine, Person, company, phone, unique_email, until


def _calls(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in calls]


async def _phone_edited_in_salesforce(engine: Engine, person: Person, value: str) -> dict[str, Any]:
    """A Phone edit in Salesforce applied to GetResponse; the contact afterwards."""
    await engine.sf.update(person.salesforce_id, Phone=value)
    await engine.to_getresponse.apply(engine.events.updated(await engine.sf.record(person.salesforce_id), "Phone"))
    contact = await engine.gr.active(person.email)
    assert contact is not None
    return contact


async def test_a_salesforce_edit_costs_one_read_and_one_write_and_its_echoes_cost_nothing(engine: Engine) -> None:
    person = await engine.linked_lead()
    gr_mark, sf_mark = await engine.gr.mark(), await engine.sf.mark()

    contact = await _phone_edited_in_salesforce(engine, person, "+48 600 999 111")

    assert _calls(await engine.gr.calls(gr_mark)) == [
        ("GET", f"/v3/contacts/{person.contact_id}"),  # GetResponse has no conditional write
        ("POST", f"/v3/contacts/{person.contact_id}"),
    ]
    assert phone(contact) == "+48600999111"
    gr_mark = await engine.gr.mark()
    # Our write comes back three ways: the custom-field webhook, the poller's changedOn search
    # (the same changedOn our write was answered with), and the Outbound Message of the record.
    hook = engine.events.webhook(Kind.REREAD, contact).model_copy(
        update={
            "detail": {
                "type": "contact_custom_field_changed",
                "custom_field": {"customFieldId": PHONE_FIELD, "values": ["+48600999111"]},
            }
        }
    )
    await engine.to_salesforce.apply(hook)
    await engine.to_salesforce.apply(engine.events.poll(contact))
    await engine.to_getresponse.apply(engine.events.outbound_message(await engine.sf.record(person.salesforce_id)))

    assert await engine.gr.calls(gr_mark) == []
    assert await engine.sf.writes(sf_mark) == []


async def test_a_poll_at_our_own_changed_on_that_shows_another_name_is_read_and_merged(engine: Engine) -> None:
    """Whole seconds: an edit in the same second as our write has the same changedOn. Its name
    differs from the base, so the contact is read, and the edit reaches Salesforce."""
    person = await engine.linked_lead()
    await _phone_edited_in_salesforce(engine, person, "+48 600 999 222")
    link = await engine.link(person.email)
    assert link is not None and link.getresponse_changed_on is not None
    edited = await engine.gr.edit(person.contact_id, name="Patricia Lee")
    poll = engine.events.poll(edited).model_copy(update={"source_timestamp": link.getresponse_changed_on})
    gr_mark = await engine.gr.mark()

    await engine.to_salesforce.apply(poll)

    assert _calls(await engine.gr.calls(gr_mark)) == [("GET", f"/v3/contacts/{person.contact_id}")]
    record = await engine.sf.record(person.salesforce_id)
    assert (record["FirstName"], record["LastName"]) == ("Patricia", "Lee")


async def test_a_custom_field_webhook_with_a_value_other_than_the_base_is_read(engine: Engine) -> None:
    person = await engine.linked_lead()
    contact = await engine.gr.edit(person.contact_id, **{COMPANY_FIELD: "Elsewhere Ltd"})
    hook = engine.events.webhook(Kind.REREAD, contact).model_copy(
        update={
            "detail": {
                "type": "contact_custom_field_changed",
                "custom_field": {"customFieldId": COMPANY_FIELD, "values": ["Elsewhere Ltd"]},
            }
        }
    )
    gr_mark = await engine.gr.mark()

    await engine.to_salesforce.apply(hook)

    assert _calls(await engine.gr.calls(gr_mark)) == [("GET", f"/v3/contacts/{person.contact_id}")]
    assert (await engine.sf.record(person.salesforce_id))["Company"] == "Elsewhere Ltd"


async def test_pending_creates_are_linked_by_one_search_of_the_list_without_reading_them(engine: Engine) -> None:
    emails = [unique_email("many") for _ in range(5)]
    for i, email in enumerate(emails):
        lead_id = await engine.sf.create("Lead", FirstName="Al", LastName=f"Many{i}", Email=email, Company="M")
        await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    await engine.look_up_now(emails[1])  # the queued creates go out (a burst: batching.py)
    for email in emails:
        await engine.until_on_list(email)
    gr_mark = await engine.gr.mark()

    for email in emails:
        await engine.look_up_now(email)  # the first answers for all

    for email in emails:
        link = await engine.link(email)
        assert link is not None and link.state == "linked" and link.getresponse_contact_id is not None
        assert link.getresponse_changed_on is not None
    reads = [(m, p) for m, p in _calls(await engine.gr.calls(gr_mark)) if m == "GET"]
    assert reads == [("GET", "/v3/contacts")]  # one createdOn search, no contact read


async def test_a_burst_of_creates_goes_out_as_one_batch_after_the_first_single_create(engine: Engine) -> None:
    emails = [unique_email("burst") for _ in range(4)]
    gr_mark = await engine.gr.mark()
    for i, email in enumerate(emails):
        lead_id = await engine.sf.create("Lead", FirstName="Bu", LastName=f"Rst{i}", Email=email, Company="B")
        await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))

    # The first was nothing else's company: sent at once. The others waited for company.
    assert _calls(await engine.gr.writes(gr_mark)) == [("POST", "/v3/contacts")]
    for email in emails:
        await until(lambda e=email: _linked(engine, e), what=f"{email} linked")  # type: ignore[misc]

    calls = _calls(await engine.gr.calls(gr_mark))
    assert [c for c in calls if c[0] == "POST"] == [("POST", "/v3/contacts"), ("POST", "/v3/contacts/batch")]
    assert all(path == "/v3/contacts" for method, path in calls if method == "GET")  # searches, no reads
    for i, email in enumerate(emails):
        contact = await engine.gr.active(email)
        assert contact is not None and contact["name"] == f"Bu Rst{i}" and company(contact) == "B"


async def test_an_email_a_batch_finds_already_on_the_list_is_merged_and_not_duplicated(engine: Engine) -> None:
    """The batch skips an email already on the list without a word (the strict reading): the
    exact-email lookup finds the contact, older than our create, and merges it as a 409 would."""
    emails = [unique_email("first"), unique_email("known"), unique_email("third")]
    await engine.gr.subscribe(emails[1], "Kay Known", **{COMPANY_FIELD: "Form Co"})
    for email in emails:
        lead_id = await engine.sf.create("Lead", FirstName="Kay", LastName="Known", Email=email, Company="Lead Co")
        await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    link = await engine.link(emails[1])
    assert link is not None and link.pending_changes.get("create") is not None  # queued: a burst

    for _ in range(4):
        await engine.look_up_now(emails[1])
        await asyncio.sleep(0.2)
    link = await engine.link(emails[1])
    assert link is not None and link.state == "linked"

    (contact,) = await engine.gr.contacts(emails[1], state="active")
    assert link.getresponse_contact_id == contact["contactId"]
    assert company(contact) == "Lead Co"  # Salesforce is the preferred system of the demo sync
    batches = [c for c in await engine.gr.writes() if c["path"] == "/v3/contacts/batch"]
    assert len(batches) == 1


async def test_a_contact_added_webhook_links_our_pending_create_without_a_read(engine: Engine) -> None:
    email = unique_email("hooked")
    lead_id = await engine.sf.create("Lead", FirstName="Wu", LastName="Hook", Email=email, Company="W")
    await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    contact = await engine.until_on_list(email)
    gr_mark = await engine.gr.mark()

    await engine.to_salesforce.apply(engine.events.webhook(Kind.SUBSCRIBED, contact))
    await engine.to_salesforce.apply(engine.events.poll(contact))

    link = await engine.link(email)
    assert link is not None and (link.state, link.getresponse_contact_id) == ("linked", contact["contactId"])
    assert await engine.gr.calls(gr_mark) == []


async def _linked(engine: Engine, email: str) -> bool | None:
    await engine.lookups.run_once()
    link = await engine.link(email)
    return True if link is not None and link.getresponse_contact_id else None


async def test_a_contact_edited_before_its_create_was_linked_is_read_and_merged_when_its_poll_comes(
    engine: Engine,
) -> None:
    email = unique_email("early")
    lead_id = await engine.sf.create("Lead", FirstName="Ed", LastName="Early", Email=email, Company="E")
    await engine.to_getresponse.apply(engine.events.created(await engine.sf.record(lead_id)))
    contact = await engine.until_on_list(email)
    await asyncio.sleep(1.1)  # a later second: changedOn moves past createdOn
    edited = await engine.gr.edit(contact["contactId"], name="Edna Early")
    await engine.look_up_now(email)
    link = await engine.link(email)
    assert link is not None and link.state == "linked" and link.getresponse_changed_on is None
    gr_mark = await engine.gr.mark()

    await engine.to_salesforce.apply(engine.events.poll(edited))

    assert _calls(await engine.gr.calls(gr_mark)) == [("GET", f"/v3/contacts/{contact['contactId']}")]
    assert (await engine.sf.record(lead_id))["FirstName"] == "Edna"
