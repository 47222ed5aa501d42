"""GetResponseClient against the GetResponse simulator: authentication (API key, OAuth, MAX
X-Domain), asynchronous creates found by exact email, updates and custom-field upserts, paging,
and the error classes (api-contracts B5-B8, B10, C8-C10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clients.errors import Conflict, NotFound, Permanent, Transient, Unauthorized
from app.clients.getresponse import GetResponseClient
from app.clients.getresponse_formats import parse_datetime
from app.clients.limits import AccountLimiter
from simulators.getresponse.seed import (
    COMPANY_FIELD_ID,
    DEFAULT_CAMPAIGN_ID,
    PHONE_TEXT_FIELD_ID,
    SECOND_CAMPAIGN_ID,
)
from tests.fixtures.simulators import GR_API_KEY, GR_OAUTH_TOKEN, Sim
from tests.integration.clients.harness import eventually


def client(sim: Sim, **options: Any) -> GetResponseClient:
    options.setdefault("api_key", GR_API_KEY)
    return GetResponseClient(base_url=f"{sim.url}/v3", limiter=AccountLimiter(), **options)


def subscribe(sim: Sim, email: str, **fields: Any) -> str:
    """Someone joins the list through a form: visible at once, with an id."""
    body = {"email": email, "campaignId": DEFAULT_CAMPAIGN_ID, **fields}
    contact_id: str = sim.control("POST", "/_sim/contacts", json=body)["contactId"]
    return contact_id


def new_contact(email: str, campaign_id: str = DEFAULT_CAMPAIGN_ID) -> dict[str, Any]:
    return {"email": email, "name": "Pat Lee", "campaign": {"campaignId": campaign_id}}


async def test_an_api_key_reads_the_accounts_lists_and_fields(gr: GetResponseClient) -> None:
    assert {DEFAULT_CAMPAIGN_ID, SECOND_CAMPAIGN_ID} <= {c["campaignId"] for c in await gr.campaigns()}
    assert (await gr.campaign(DEFAULT_CAMPAIGN_ID))["name"] == "sfgr_main"
    assert COMPANY_FIELD_ID in {f["customFieldId"] for f in await gr.custom_fields()}


async def test_an_oauth_bearer_token_is_accepted(gr_sim: Sim) -> None:
    async with client(gr_sim, api_key=None, oauth_token=GR_OAUTH_TOKEN) as gr:
        assert await gr.campaigns()


async def test_a_wrong_api_key_is_unauthorized(gr_sim: Sim) -> None:
    async with client(gr_sim, api_key="not-the-key") as gr:
        with pytest.raises(Unauthorized) as refused:
            await gr.campaigns()
    assert (refused.value.status, refused.value.code) == (401, 1014)


async def test_a_max_account_needs_its_bare_domain_on_every_call(gr_sim: Sim) -> None:
    gr_sim.configure(max_domain="example.com")
    async with client(gr_sim, domain="https://www.Example.com/") as gr:
        assert gr.domain == "example.com"
        await gr.campaigns()
        await gr.create_contact(new_contact("max@example.com"))
    async with client(gr_sim) as without_domain:
        with pytest.raises(Unauthorized):
            await without_domain.campaigns()


async def test_a_created_contact_has_no_id_until_the_vendor_has_processed_it(gr: GetResponseClient) -> None:
    await gr.create_contact(new_contact("pat@example.com"))  # 202: nothing to return
    assert await gr.find_contacts(email="pat@example.com", campaign_id=DEFAULT_CAMPAIGN_ID) == []
    found = await eventually(
        lambda: gr.find_contacts(email="pat@example.com", campaign_id=DEFAULT_CAMPAIGN_ID), what="the contact"
    )
    assert [c["email"] for c in found] == ["pat@example.com"]
    assert (await gr.get_contact(found[0]["contactId"]))["campaign"]["campaignId"] == DEFAULT_CAMPAIGN_ID


async def test_email_lookups_match_exactly_unless_asked_otherwise(gr: GetResponseClient, gr_sim: Sim) -> None:
    subscribe(gr_sim, "pat@example.com")
    subscribe(gr_sim, "spat@example.com")
    assert [c["email"] for c in await gr.find_contacts(email="PAT@example.com")] == ["pat@example.com"]
    partial = await gr.find_contacts(email="pat@example.com", exact=False)
    assert sorted(c["email"] for c in partial) == ["pat@example.com", "spat@example.com"]
    lookups = [c["query"] for c in gr_sim.calls("/v3/contacts")]
    assert "additionalFlags=exactMatch" in lookups[0]


async def test_the_same_email_twice_on_one_list_is_a_conflict(gr: GetResponseClient) -> None:
    await gr.create_contact(new_contact("twice@example.com"))
    with pytest.raises(Conflict) as refused:
        await gr.create_contact(new_contact("twice@example.com"))
    assert (refused.value.status, refused.value.code) == (409, 1008)
    await gr.create_contact(new_contact("twice@example.com", SECOND_CAMPAIGN_ID))  # another list: fine


async def test_an_upsert_changes_some_custom_fields_and_keeps_the_others(
    gr: GetResponseClient, gr_sim: Sim
) -> None:
    contact_id = subscribe(
        gr_sim,
        "fields@example.com",
        customFieldValues=[
            {"customFieldId": COMPANY_FIELD_ID, "value": ["Acme"]},
            {"customFieldId": PHONE_TEXT_FIELD_ID, "value": ["600 100 200"]},
        ],
    )
    after = await gr.upsert_custom_fields(
        contact_id, [{"customFieldId": COMPANY_FIELD_ID, "value": ["Beta"]}]
    )
    assert {f["customFieldId"]: f["values"] for f in after} == {
        COMPANY_FIELD_ID: ["Beta"],
        PHONE_TEXT_FIELD_ID: ["600 100 200"],
    }
    updated = await gr.update_contact(contact_id, {"name": "Pat Kim"})
    assert updated["name"] == "Pat Kim"
    assert len(updated["customFieldValues"]) == 2
    # customFieldValues in an update replace the whole set (C9): the other field is gone.
    replaced = await gr.update_contact(
        contact_id, {"customFieldValues": [{"customFieldId": COMPANY_FIELD_ID, "value": ["Gamma"]}]}
    )
    assert [f["customFieldId"] for f in replaced["customFieldValues"]] == [COMPANY_FIELD_ID]


async def test_a_deleted_or_unknown_contact_is_not_found(gr: GetResponseClient, gr_sim: Sim) -> None:
    contact_id = subscribe(gr_sim, "gone@example.com")
    await gr.delete_contact(contact_id)
    for missing in (contact_id, "nope0"):
        with pytest.raises(NotFound) as absent:
            await gr.get_contact(missing)
        assert (absent.value.status, absent.value.code) == (404, 1013)
    with pytest.raises(NotFound):
        await gr.update_contact(contact_id, {"name": "x"})


async def test_a_body_the_vendor_refuses_is_permanent_and_names_the_field(gr: GetResponseClient) -> None:
    with pytest.raises(Permanent) as refused:
        await gr.create_contact({"email": "not-an-email", "campaign": {"campaignId": DEFAULT_CAMPAIGN_ID}})
    assert (refused.value.status, refused.value.code, refused.value.fields) == (400, 1000, ("email",))


async def test_changes_since_an_instant_come_oldest_first_across_pages(
    gr: GetResponseClient, gr_sim: Sim
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    emails = [f"page{n}@example.com" for n in range(5)]
    for email in emails:
        subscribe(gr_sim, email)
    subscribe(gr_sim, "elsewhere@example.com", campaignId=SECOND_CAMPAIGN_ID)
    changed = [c async for c in gr.changed_since(DEFAULT_CAMPAIGN_ID, since, per_page=2)]
    assert sorted(c["email"] for c in changed) == emails
    moments = [parse_datetime(c["changedOn"]) for c in changed]
    assert moments == sorted(moments)
    pages = [c["query"] for c in gr_sim.calls("/v3/contacts")]
    assert len(pages) == 3
    assert all("sort%5BchangedOn%5D=ASC" in q and "%2B0000" in q for q in pages)
    assert [
        c async for c in gr.changed_since(DEFAULT_CAMPAIGN_ID, datetime.now(UTC) + timedelta(hours=1))
    ] == []


async def test_contacts_created_since_come_oldest_first_in_one_search_of_the_list(
    gr: GetResponseClient, gr_sim: Sim
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    emails = [f"created{n}@example.com" for n in range(3)]
    for email in emails:
        subscribe(gr_sim, email)
    subscribe(gr_sim, "other.list@example.com", campaignId=SECOND_CAMPAIGN_ID)
    created = await gr.created_since(DEFAULT_CAMPAIGN_ID, since)
    assert sorted(c["email"] for c in created) == emails
    moments = [parse_datetime(c["createdOn"]) for c in created]
    assert moments == sorted(moments)
    (search,) = [c["query"] for c in gr_sim.calls("/v3/contacts")]
    assert "sort%5BcreatedOn%5D=ASC" in search and "perPage=1000" in search
    assert await gr.created_since(DEFAULT_CAMPAIGN_ID, datetime.now(UTC) + timedelta(hours=1)) == []


async def test_paging_arguments_are_checked_before_calling(gr: GetResponseClient) -> None:
    with pytest.raises(ValueError):
        [c async for c in gr.changed_since(DEFAULT_CAMPAIGN_ID, datetime.now(UTC), per_page=0)]
    with pytest.raises(ValueError):
        await gr.find_contacts()


async def test_a_batch_of_contacts_is_queued_and_appears_later(gr: GetResponseClient) -> None:
    emails = [f"batch{n}@example.com" for n in range(3)]
    await gr.create_contacts_batch(DEFAULT_CAMPAIGN_ID, [{"email": e} for e in emails])

    async def all_there() -> bool:
        found = await gr.find_contacts(campaign_id=DEFAULT_CAMPAIGN_ID)
        return {c["email"] for c in found} >= set(emails)

    await eventually(all_there, what="the batch")


async def test_an_injected_server_error_is_transient(gr: GetResponseClient, gr_sim: Sim) -> None:
    gr_sim.faults(error_rate=1.0, error_statuses=[503], path_prefix="/v3/contacts")
    with pytest.raises(Transient) as failed:
        await gr.get_contact("abcde")
    assert (failed.value.status, failed.value.code) == (503, 1)


async def test_a_call_that_hangs_past_the_timeout_is_transient(gr_sim: Sim) -> None:
    gr_sim.faults(timeout_rate=1.0, timeout_seconds=0.6, path_prefix="/v3/campaigns")
    async with client(gr_sim, timeout_s=0.2) as gr:
        with pytest.raises(Transient):
            await gr.campaigns()
        assert gr.limiter.in_flight == 0

    async def hung_call_ended() -> bool:
        return bool(gr_sim.calls("/v3/campaigns"))

    await eventually(hung_call_ended, what="the hung call to end, so that no later test sees it")


def test_exactly_one_credential_is_required(gr_sim: Sim) -> None:
    with pytest.raises(ValueError):
        client(gr_sim, api_key=None)
    with pytest.raises(ValueError):
        client(gr_sim, oauth_token=GR_OAUTH_TOKEN)
