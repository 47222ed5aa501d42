"""The first sync (consumers/jobs/first_sync.py) of a list and an org that already hold people:
matched by email, one-sided, duplicated, without an email. Planned and reported first (a dry run
stops there), then run as the job worker runs it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from app.clients.errors import Permanent
from app.domain.sides import Side
from consumers.jobs.first_sync import Plan, report
from devstack.defaults import COMPANY_FIELD, COUNTRY_FIELD, PHONE_FIELD
from tests.integration.consumers.harness import (
    LEAD_SOURCE,
    Engine,
    EngineFor,
    company,
    country,
    unique_email,
)


@dataclass(frozen=True)
class World:
    """Who is where before the first sync."""

    matched: str  # a Lead and a contact; their companies differ
    filled: str  # a Contact without a country, and a contact with one
    salesforce_only: str
    duplicated: str  # two Leads, not on the list
    getresponse_only: str
    matched_lead: str
    matched_contact: str
    filled_contact_record: str
    older_duplicate: str
    newer_duplicate: str
    salesforce_only_lead: str
    getresponse_only_contact: str
    without_email: str


async def _people_on_both_sides(engine: Engine) -> World:
    sf, gr = engine.sf, engine.gr
    matched, filled, sf_only, duplicated, gr_only = (unique_email(t) for t in ("ann", "eve", "bob", "dee", "cid"))
    matched_lead = await sf.create(
        "Lead", FirstName="Ann", LastName="Match", Email=matched, Company="Acme SF", Phone="+48 600 100 201",
        Country="Poland",
    )
    matched_contact = await gr.subscribe(
        matched, "Ann Match", **{COMPANY_FIELD: "Acme GR", PHONE_FIELD: "+48600100201", COUNTRY_FIELD: "Poland"}
    )
    filled_record = await sf.create("Contact", FirstName="Eve", LastName="Fill", Email=filled)
    await gr.subscribe(filled, "Eve Fill", **{COUNTRY_FIELD: "Poland"})
    sf_only_lead = await sf.create("Lead", FirstName="Bob", LastName="Sf", Email=sf_only, Company="B Co")
    older = await sf.create("Lead", FirstName="Dee", LastName="One", Email=duplicated, Company="D1")
    newer = await sf.create("Lead", FirstName="Dee", LastName="Two", Email=duplicated, Company="D2")
    gr_only_contact = await gr.subscribe(gr_only, "Cid Gr", **{COMPANY_FIELD: "C GmbH"})
    no_email = await sf.create("Lead", FirstName="Nia", LastName="Noemail", Company="N Co")
    return World(
        matched, filled, sf_only, duplicated, gr_only, matched_lead, matched_contact, filled_record, older, newer,
        sf_only_lead, gr_only_contact, no_email,
    )


async def test_first_sync_plan_reports_matches_one_sided_people_duplicates_and_conflicts_and_writes_nothing(
    engine_for: EngineFor,
) -> None:
    async with engine_for(first_sync=True) as engine:
        world = await _people_on_both_sides(engine)
        sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()

        plan = await engine.first_sync.plan(engine.sync)
        summary = report(plan, engine.sync)

        assert summary["counts"] == {
            "matches": 2, "salesforce_only": 2, "getresponse_only": 1, "duplicates": 1, "no_email": 1,
            "conflicts": 1, "empty_fields_filled": 1, "already_linked": 0,
        }
        assert summary["conflicts"] == [
            {"email": world.matched, "field": "company", "salesforce": "Acme SF", "getresponse": "Acme GR",
             "resolved_to": "Acme SF", "winner": "salesforce"},
        ]
        assert summary["duplicates"] == [
            {"email": world.duplicated, "salesforce_ids": [world.older_duplicate, world.newer_duplicate],
             "linked": world.older_duplicate},
        ]
        assert sorted(summary["salesforce_only"]) == sorted([world.salesforce_only, world.duplicated])
        assert summary["getresponse_only"] == [world.getresponse_only]
        assert summary["no_email"] == [world.without_email]
        assert await engine.sf.writes(sf_mark) == []
        assert await engine.gr.writes(gr_mark) == []
        assert await engine.all_links() == []


async def test_first_sync_run_links_matches_and_creates_the_missing_people_on_each_side(
    engine_for: EngineFor,
) -> None:
    async with engine_for(first_sync=True) as engine:
        world = await _people_on_both_sides(engine)
        plan = await engine.first_sync.plan(engine.sync)
        await engine.configure(state="first_sync")  # as the job worker does before the run
        sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
        reported: list[dict[str, int]] = []

        async def progress(counts: dict[str, int]) -> None:
            reported.append(dict(counts))

        job_id = uuid.uuid4()
        counts = await engine.first_sync.run(engine.sync, plan, job_id, progress)

        assert counts == {
            "linked": 2, "created_in_getresponse": 2, "created_in_salesforce": 1, "skipped": 0, "failed": 0,
        }
        assert reported[-1] == counts
        # The matches and the people on one side only go at once: the writes come in either order.
        gr_writes = sorted((w["method"], w["path"]) for w in await engine.gr.writes(gr_mark))
        assert gr_writes == sorted([
            ("POST", f"/v3/contacts/{world.matched_contact}"),  # the company Salesforce holds
            ("POST", "/v3/contacts/batch"),  # the two people only Salesforce has
        ])
        sf_writes = sorted((w["method"], w["path"].rsplit("/", 2)[-2:]) for w in await engine.sf.writes(sf_mark))
        assert sf_writes == [
            ("PATCH", ["composite", "sobjects"]),  # the country only GetResponse has
            ("POST", ["composite", "sobjects"]),  # the person only GetResponse has
        ]

        # Matched: the preferred system's company on both sides; the empty country filled.
        contact = await engine.gr.active(world.matched)
        assert contact is not None and company(contact) == "Acme SF"
        assert (await engine.sf.record(world.matched_lead))["Company"] == "Acme SF"
        assert (await engine.sf.record(world.filled_contact_record, "Contact"))["MailingCountry"] == "Poland"
        decided = await engine.decided(world.matched, f"job:{job_id}")
        assert decided["company"][:3] == ("preferred_first_sync", Side.SALESFORCE.value, "getresponse")
        assert (await engine.decided(world.filled))["country"][:3] == ("fill_empty", "getresponse", "salesforce")

        # Only in GetResponse: a new Lead, with the sync's LeadSource, linked at once.
        (lead,) = await engine.sf.by_email(world.getresponse_only)
        assert (lead["FirstName"], lead["LastName"], lead["Company"], lead["LeadSource"]) == (
            "Cid", "Gr", "C GmbH", LEAD_SOURCE,
        )
        link = await engine.link(world.getresponse_only)
        assert link is not None
        assert (link.state, link.salesforce_id, link.getresponse_contact_id) == (
            "linked", lead["Id"], world.getresponse_only_contact,
        )

        # Only in Salesforce: batch-created, pending, then linked by the lookups; the older of
        # two duplicates is the one linked.
        for email, record_id, name in (
            (world.salesforce_only, world.salesforce_only_lead, "Bob Sf"),
            (world.duplicated, world.older_duplicate, "Dee One"),
        ):
            link = await engine.until_linked(email)
            contact = await engine.gr.active(email)
            assert contact is not None and contact["name"] == name
            assert (link.state, link.salesforce_id, link.getresponse_contact_id) == (
                "linked", record_id, contact["contactId"],
            )
        link = await engine.link(world.filled)
        assert link is not None and (link.state, link.salesforce_id) == ("linked", world.filled_contact_record)

        # Run again (a job resumed after a crash): everyone is linked already, nothing is written.
        await engine.configure(state="active")
        sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
        again = await engine.first_sync.plan(engine.sync)
        assert report(again, engine.sync)["counts"]["already_linked"] == 5
        assert await engine.first_sync.run(engine.sync, again, uuid.uuid4(), progress) == dict.fromkeys(counts, 0)
        assert await engine.sf.writes(sf_mark) == []
        assert await engine.gr.writes(gr_mark) == []
        assert country(await engine.gr.active(world.filled) or {}) == "Poland"


async def test_first_sync_plan_and_run_writes_while_it_reads_what_plan_then_run_would(
    engine_for: EngineFor,
) -> None:
    async with engine_for(first_sync=True) as engine:
        world = await _people_on_both_sides(engine)
        await engine.configure(state="first_sync")  # as the job worker does before the run
        sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
        plans: list[Plan] = []

        async def planned(plan: Plan) -> None:
            plans.append(plan)

        async def progress(counts: dict[str, int]) -> None:
            pass

        counts = await engine.first_sync.plan_and_run(engine.sync, uuid.uuid4(), progress, planned)

        assert counts == {
            "linked": 2, "created_in_getresponse": 2, "created_in_salesforce": 1, "skipped": 0, "failed": 0,
        }
        (plan,) = plans
        assert report(plan, engine.sync)["counts"] == {
            "matches": 2, "salesforce_only": 2, "getresponse_only": 1, "duplicates": 1, "no_email": 1,
            "conflicts": 1, "empty_fields_filled": 1, "already_linked": 0,
        }
        gr_writes = sorted((w["method"], w["path"]) for w in await engine.gr.writes(gr_mark))
        assert gr_writes == sorted([("POST", f"/v3/contacts/{world.matched_contact}"), ("POST", "/v3/contacts/batch")])
        sf_writes = sorted((w["method"], w["path"].rsplit("/", 2)[-2:]) for w in await engine.sf.writes(sf_mark))
        assert sf_writes == [("PATCH", ["composite", "sobjects"]), ("POST", ["composite", "sobjects"])]
        contact = await engine.gr.active(world.matched)
        assert contact is not None and company(contact) == "Acme SF"
        for email in (world.matched, world.filled, world.getresponse_only):
            link = await engine.link(email)
            assert link is not None and link.state == "linked", email


async def test_first_sync_chunks_that_fail_roll_back_alone_and_the_run_resumes_from_those_committed(
    engine_for: EngineFor,
) -> None:
    async with engine_for(first_sync=True) as engine:
        # Six matches, each a chunk of its own, three at once; each needs GetResponse's company.
        emails = [unique_email(f"p{i}") for i in range(6)]
        contacts: dict[str, str] = {}
        for i, email in enumerate(emails):
            await engine.sf.create("Lead", FirstName="P", LastName=f"N{i}", Email=email, Company=f"SF {i}")
            contacts[email] = await engine.gr.subscribe(email, f"P N{i}", **{COMPANY_FIELD: f"GR {i}"})
        await engine.configure(state="first_sync")
        first_sync = replace(engine.first_sync, chunk=1, linking_at_once=3)
        failing = sorted(emails)[3]
        await engine.gr.faults(
            error_rate=1.0, error_statuses=[400], methods=["POST"], path_prefix=f"/v3/contacts/{contacts[failing]}"
        )

        async def progress(counts: dict[str, int]) -> None:
            pass

        with pytest.raises(Permanent):
            await first_sync.run(engine.sync, await first_sync.plan(engine.sync), uuid.uuid4(), progress)

        # Each chunk committed its link with its write, or neither: a linked person agrees.
        linked = set()
        for email in emails:
            link = await engine.link(email)
            if link is not None and link.state == "linked":
                linked.add(email)
                contact = await engine.gr.active(email)
                assert contact is not None and company(contact) == company_of(emails, email), email
        assert failing not in linked

        await engine.gr.faults()
        gr_mark = await engine.gr.mark()
        again = await first_sync.plan(engine.sync)
        assert report(again, engine.sync)["counts"]["already_linked"] == len(linked)
        counts = await first_sync.run(engine.sync, again, uuid.uuid4(), progress)
        assert counts["linked"] == len(emails) - len(linked)
        # Nobody linked before is written again; a chunk that wrote and then rolled back finds the
        # value in place and writes nothing either.
        written = {w["path"] for w in await engine.gr.writes(gr_mark)}
        assert written <= {f"/v3/contacts/{contacts[e]}" for e in emails if e not in linked}
        for email in emails:
            link = await engine.link(email)
            assert link is not None and link.state == "linked", email
            contact = await engine.gr.active(email)
            assert contact is not None and company(contact) == company_of(emails, email), email


def company_of(emails: list[str], email: str) -> str:
    """The company the sync's preferred system (Salesforce) holds for the i-th person."""
    return f"SF {emails.index(email)}"
