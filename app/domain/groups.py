"""The sync's group: which Salesforce records feed its GetResponse list (design.md, "Configure a
sync"). An optional SOQL filter, an optional Salesforce Campaign, or both; without either, every
record of the sync's objects.

A Campaign is applied as a SOQL semi-join on CampaignMember, so the first sync's query, the live
path's membership check and validation all ask Salesforce the same question.
"""

from __future__ import annotations

import re

from app.domain.sides import ObjectType

# A Campaign id: key prefix 701, then 12 characters; the 18-character form adds a 3-character
# case-safe suffix. Both name the same record (15-character ids are case-sensitive).
CAMPAIGN_ID = re.compile(r"701[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")

# The membership object, its field naming the Campaign, and the one naming each object type's member.
CAMPAIGN_MEMBER = "CampaignMember"
CAMPAIGN_FIELD = "CampaignId"
MEMBER_FIELD = {ObjectType.LEAD: "LeadId", ObjectType.CONTACT: "ContactId"}


def group_condition(
    object_type: ObjectType, *, soql_filter: str | None, campaign_id: str | None
) -> str | None:
    """The WHERE condition selecting the group's records of `object_type`; None for all of them."""
    parts = []
    if soql_filter:
        parts.append(f"({soql_filter})")
    if campaign_id:
        if not CAMPAIGN_ID.fullmatch(campaign_id):
            raise ValueError(f"{campaign_id!r} is not a Salesforce Campaign id")
        member = MEMBER_FIELD[object_type]
        # The id was checked above to be letters and digits only.
        parts.append(
            f"Id IN (SELECT {member} FROM {CAMPAIGN_MEMBER} WHERE {CAMPAIGN_FIELD} = '{campaign_id}')"  # noqa: S608
        )
    return " AND ".join(parts) or None


def same_salesforce_id(first: str, second: str) -> bool:
    """Whether two Salesforce ids, each 15 or 18 characters, name the same record."""
    return first[:15] == second[:15]
