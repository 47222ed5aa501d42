"""Resync (consumers/jobs/resync.py): both sides of a linked person read afresh and made to agree,
for edits no event reported (a lost webhook, a custom-field edit changedOn does not show)."""

from __future__ import annotations

from typing import Any

from app.domain.jobs import ResyncMode, ResyncScope
from devstack.defaults import COMPANY_FIELD
from tests.integration.consumers.harness import Engine, Person, company, phone

Run = tuple[dict[str, int], list[dict[str, Any]], list[str]]


async def _resync(engine: Engine, mode: ResyncMode, scope: ResyncScope, *, dry_run: bool) -> Run:
    async def checkpoint(done: int, counts: dict[str, int], changes: list[dict[str, Any]]) -> None:
        pass  # every 50 people; these tests resync one

    return await engine.resync.run(
        engine.sync, mode=mode, scope=scope, dry_run=dry_run, done=0, checkpoint=checkpoint, event_id="job:resync"
    )


async def _edited_on_both_sides_unreported(engine: Engine) -> Person:
    """A linked person whose company changed in GetResponse and phone in Salesforce, with no event."""
    person = await engine.linked_lead()
    await engine.gr.edit(person.contact_id, **{COMPANY_FIELD: "Acme GR"})
    await engine.sf.update(person.salesforce_id, Phone="+48 600 100 888")
    return person


RECONCILED = [
    {"field": "company", "old": "Acme", "new": "Acme GR", "write_to": ["salesforce"], "rule": "one_side_changed"},
    {"field": "phone", "old": "+48600100200", "new": "+48600100888", "write_to": ["getresponse"],
     "rule": "one_side_changed"},
]


async def test_resync_reconcile_takes_each_side_s_unreported_change_to_the_other(engine: Engine) -> None:
    person = await _edited_on_both_sides_unreported(engine)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    scope = ResyncScope(emails=[person.email.upper(), "nobody@example.com"])

    counts, changes, missing = await _resync(engine, ResyncMode.RECONCILE, scope, dry_run=False)

    assert counts == {"people": 1, "changed": 1, "unchanged": 0, "gone": 0, "fields_written": 2}
    assert sorted(({k: v for k, v in c.items() if k != "email"} for c in changes), key=lambda c: c["field"]) == RECONCILED
    assert missing == ["nobody@example.com"]
    assert [w["method"] for w in await engine.sf.writes(sf_mark)] == ["PATCH"]
    assert [w["method"] for w in await engine.gr.writes(gr_mark)] == ["POST"]
    lead, contact = await engine.sf.record(person.salesforce_id), await engine.gr.contact(person.contact_id)
    assert (lead["Company"], lead["Phone"]) == ("Acme GR", "+48 600 100 888")
    assert (company(contact), phone(contact)) == ("Acme GR", "+48600100888")
    link = await engine.link(person.email)
    assert link is not None
    assert (link.base["company"]["value"], link.base["phone"]["value"]) == ("Acme GR", "+48600100888")

    # Both sides agree now: a second resync finds nothing to do.
    counts, changes, _ = await _resync(engine, ResyncMode.RECONCILE, scope, dry_run=False)
    assert (counts["unchanged"], changes) == (1, [])


async def test_resync_dry_run_reports_the_writes_and_makes_none(engine: Engine) -> None:
    person = await _edited_on_both_sides_unreported(engine)
    base = (await engine.link(person.email)).base  # type: ignore[union-attr]
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()

    counts, changes, _ = await _resync(
        engine, ResyncMode.RECONCILE, ResyncScope(salesforce_ids=[person.salesforce_id]), dry_run=True
    )

    assert counts == {"people": 1, "changed": 1, "unchanged": 0, "gone": 0, "fields_written": 2}
    assert sorted(({k: v for k, v in c.items() if k != "email"} for c in changes), key=lambda c: c["field"]) == RECONCILED
    assert await engine.sf.writes(sf_mark) == []
    assert await engine.gr.writes(gr_mark) == []
    assert (await engine.link(person.email)).base == base  # type: ignore[union-attr]
    assert await engine.decisions(person.email, "job:resync") == []


async def test_resync_salesforce_wins_overwrites_getresponse_edits_but_never_with_emptiness(engine: Engine) -> None:
    person = await engine.linked_lead()
    await engine.gr.edit(person.contact_id, name="Renamed In GR", **{COMPANY_FIELD: "Acme GR"})
    await engine.sf.update(person.salesforce_id, Phone=None)  # cleared in Salesforce
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()

    counts, changes, _ = await _resync(
        engine, ResyncMode.SALESFORCE_WINS, ResyncScope(getresponse_contact_ids=[person.contact_id]), dry_run=False
    )

    contact, lead = await engine.gr.contact(person.contact_id), await engine.sf.record(person.salesforce_id)
    assert (contact["name"], company(contact)) == ("Pat Lee", "Acme")  # Salesforce's values
    assert (phone(contact), lead["Phone"]) == ("+48600100200", "+48600100200")  # the filled value kept
    assert [w["method"] for w in await engine.gr.writes(gr_mark)] == ["POST"]
    assert [w["method"] for w in await engine.sf.writes(sf_mark)] == ["PATCH"]
    assert counts["fields_written"] == 3
    rules = {c["field"]: (c["rule"], c["write_to"]) for c in changes}
    assert rules == {
        "name": ("preferred_first_sync", ["getresponse"]),
        "company": ("preferred_first_sync", ["getresponse"]),
        "phone": ("fill_empty", ["salesforce"]),
    }
