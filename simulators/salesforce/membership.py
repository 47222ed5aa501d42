"""What Salesforce does to a CampaignMember on save (Object Reference, "CampaignMember", Usage).

- A member names one person. With neither LeadId nor ContactId the save is refused
  (REQUIRED_FIELD_MISSING naming both; the code and message are UNCONFIRMED). With both on create
  "the insert succeeds but only the ContactId is inserted" (documented), so LeadId is dropped.
- One member per Campaign and Lead, and per Campaign and Contact: a second is
  400 DUPLICATE_VALUE "Already a campaign member." (as the API answers it).
- `Status` must be one of the Campaign's member statuses; any other value, or none, is replaced by
  the default status, on create and on update (documented). Every Campaign here has the two
  statuses a new Campaign starts with, "Sent" (the default) and "Responded"; custom statuses per
  Campaign are not modelled. `HasResponded` is true for "Responded", and `FirstRespondedDate` is
  set the first time it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from simulators.salesforce.errors import ApiError, SalesforceError
from simulators.salesforce.schema import MEMBER_DEFAULT_STATUS, MEMBER_STATUSES

RESPONDED_STATUSES = frozenset({"Responded"})
PERSON_FIELDS = ("LeadId", "ContactId")


def prepare(values: dict[str, Any], *, creating: bool, today: date) -> None:
    """Settles the person and the status of a member about to be saved, in place."""
    if creating and values.get("LeadId") and values.get("ContactId"):
        values["LeadId"] = None
    if not any(values.get(name) for name in PERSON_FIELDS):
        raise SalesforceError(
            400,
            ApiError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(PERSON_FIELDS)}]",
                list(PERSON_FIELDS),
            ),
        )
    if values.get("Status") not in MEMBER_STATUSES:
        values["Status"] = MEMBER_DEFAULT_STATUS
    values["HasResponded"] = values["Status"] in RESPONDED_STATUSES
    if values["HasResponded"] and values.get("FirstRespondedDate") is None:
        values["FirstRespondedDate"] = today


def check_unique(values: dict[str, Any], members: Iterable[dict[str, Any]]) -> None:
    """DUPLICATE_VALUE when another live member links the same Campaign and person."""
    for other in members:
        if other["Id"] == values["Id"] or other["CampaignId"] != values["CampaignId"]:
            continue
        if any(values.get(name) and other.get(name) == values[name] for name in PERSON_FIELDS):
            raise SalesforceError(400, ApiError("DUPLICATE_VALUE", "Already a campaign member.", []))
