"""People who come from GetResponse join the sync's Salesforce Campaign.

A sync whose group is a Campaign applies only its members' Salesforce changes to the list. A
person created in (or linked to) Salesforce from the list joins that Campaign, so that their later
Salesforce edits are in the group like everyone else's. Already being a member is the outcome we
want; another refusal (a deleted Campaign, missing rights) is logged on the person and does not
undo their sync: a dead letter would hold back the record that was already created. A passing
failure of a single join retries the whole event, which finds the record and joins again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.clients.errors import Permanent, VendorError
from app.clients.salesforce import SalesforceClient
from app.db import decisions
from app.db.models import ContactLink
from app.db.syncs import SyncConfig
from app.domain.groups import CAMPAIGN_FIELD, CAMPAIGN_MEMBER, MEMBER_FIELD
from app.domain.sides import ObjectType, Side
from app.domain.states import NoteRule
from consumers.engine.locked import LockedLink

ALREADY_A_MEMBER = "DUPLICATE_VALUE"


def _member(campaign_id: str, object_type: ObjectType, record_id: str) -> dict[str, str]:
    return {CAMPAIGN_FIELD: campaign_id, MEMBER_FIELD[object_type]: record_id}


async def join_campaign(locked: LockedLink) -> None:
    campaign_id, record_id = locked.sync.salesforce_campaign_id, locked.link.salesforce_id
    if not campaign_id or not record_id:
        return
    try:
        await locked.sf.create(CAMPAIGN_MEMBER, _member(campaign_id, locked.object_type, record_id))
    except Permanent as exc:
        if exc.code != ALREADY_A_MEMBER:
            _note(locked.session, locked.link, campaign_id, locked.event_id, exc)
        return
    metrics.wrote("salesforce", "create")
    _note(locked.session, locked.link, campaign_id, locked.event_id, None)


async def join_campaign_many(
    session: AsyncSession,
    sync: SyncConfig,
    sf: SalesforceClient,
    object_type: ObjectType,
    people: Sequence[ContactLink],
    event_id: str,
) -> None:
    """The batch form, for the first sync: the people with a Salesforce record join, in sObject
    Collections calls of 200."""
    campaign_id = sync.salesforce_campaign_id
    joining = {link.salesforce_id: link for link in people if link.salesforce_id}
    if not campaign_id or not joining:
        return
    members = [_member(campaign_id, object_type, record_id) for record_id in joining]
    results = await sf.create_many(CAMPAIGN_MEMBER, members)
    metrics.wrote("salesforce", "create_many")
    for link, result in zip(joining.values(), results, strict=True):
        if result.error is None or result.error.code != ALREADY_A_MEMBER:
            _note(session, link, campaign_id, event_id, result.error)


def _note(
    session: AsyncSession,
    link: ContactLink,
    campaign_id: str,
    event_id: str | None,
    error: VendorError | None,
) -> None:
    campaign = f"Salesforce Campaign {campaign_id}"
    if error is None:
        rule, reason = NoteRule.JOINED_CAMPAIGN, f"came from GetResponse: joined {campaign}"
    else:
        rule, reason = NoteRule.CAMPAIGN_JOIN_FAILED, f"could not join {campaign}: {error.reason}"
    decisions.log_note(
        session,
        link,
        field=CAMPAIGN_MEMBER,
        rule=rule,
        new=campaign_id,
        winner=Side.GETRESPONSE.value,
        write_to=Side.SALESFORCE.value if error is None else None,
        reason=reason,
        event_id=event_id,
    )
