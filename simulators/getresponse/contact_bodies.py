"""Request bodies of the contact endpoints, checked the way the vendor documents (api-contracts B6).

Strict on purpose: types are not coerced (`"dayOfCycle": 42` is refused, it must be `"42"`;
`"scoring": "8"` is refused, it must be a number), unknown keys are refused (a client that sends
`contactId` or a typo learns it here rather than having it ignored in production), the email must
look like an address, `name` is 1 to 128 characters, `campaign.campaignId` is required on create.
All of these are 400/1000 naming the field; ids that do not exist (list, custom field, tag) are
400/1001.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from simulators.getresponse.contact_service import ContactDraft, ContactEdit
from simulators.getresponse.errors import parse_body, related_missing, validation_error
from simulators.getresponse.field_values import checked_values
from simulators.getresponse.store import Store

EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
MAX_BATCH = 1000


def _email(value: str) -> str:
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError("is not a valid email address")
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise ValueError("is not a valid IP address") from exc
    return value


def _digits(value: str) -> str:
    if not value.isdigit():
        raise ValueError('must be a string of digits, e.g. "0"')
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Email = Annotated[str, AfterValidator(_email)]
IpAddress = Annotated[str, AfterValidator(_ip)]
DayOfCycle = Annotated[str, AfterValidator(_digits)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CampaignIn(_Strict):
    campaignId: str


class FieldValueIn(_Strict):
    customFieldId: str
    value: list[str]


class TagIn(_Strict):
    tagId: str


class _ContactFields(_Strict):
    name: Name | None = None
    dayOfCycle: DayOfCycle | None = None
    scoring: int | float | None = None
    note: str | None = None
    ipAddress: IpAddress | None = None
    tags: list[TagIn] | None = None
    customFieldValues: list[FieldValueIn] | None = None


class NewContactIn(_ContactFields):
    email: Email
    campaign: CampaignIn


class ContactUpdateIn(_ContactFields):
    email: Email | None = None
    campaign: CampaignIn | None = None


class CustomFieldsUpsertIn(_Strict):
    customFieldValues: list[FieldValueIn] = Field(min_length=1)


class TagsUpsertIn(_Strict):
    tags: list[TagIn] = Field(min_length=1)


class BatchTagsIn(_Strict):
    ids: list[str]


class BatchContactIn(_Strict):
    email: Email
    name: Name | None = None
    dayOfCycle: DayOfCycle | None = None
    scoring: int | float | None = None
    ipAddress: IpAddress | None = None
    tags: BatchTagsIn | None = None
    customFieldValues: list[FieldValueIn] | None = None


class BatchIn(_Strict):
    campaignId: str
    contacts: list[BatchContactIn] = Field(min_length=1, max_length=MAX_BATCH)


def checked_campaign(store: Store, campaign_id: str) -> str:
    if campaign_id not in store.campaigns:
        raise related_missing("campaignId", campaign_id)
    return campaign_id


def checked_tags(store: Store, tag_ids: list[str]) -> list[str]:
    for tag_id in tag_ids:
        if tag_id not in store.tags:
            raise related_missing("tagId", tag_id)
    return tag_ids


def checked_fields(
    store: Store, values: list[FieldValueIn], *, allow_clear: bool = False
) -> dict[str, list[str]]:
    return checked_values([(v.customFieldId, v.value) for v in values], store.fields, allow_clear=allow_clear)


def new_contact(store: Store, body: dict[str, Any]) -> ContactDraft:
    data = parse_body(NewContactIn, body)
    return ContactDraft(
        email=data.email,
        campaign_id=checked_campaign(store, data.campaign.campaignId),
        name=data.name,
        day_of_cycle=data.dayOfCycle,
        scoring=data.scoring,
        note=data.note,
        ip_address=data.ipAddress,
        tags=checked_tags(store, [t.tagId for t in data.tags or []]),
        custom=checked_fields(store, data.customFieldValues or []),
    )


def contact_update(store: Store, body: dict[str, Any]) -> ContactEdit:
    """Only the keys sent are changed; `tags` and `customFieldValues` replace their whole set."""
    data = parse_body(ContactUpdateIn, body)
    sent = data.model_fields_set
    for required in ("email", "campaign", "tags", "customFieldValues"):
        if required in sent and getattr(data, required) is None:
            raise validation_error(f"{required} cannot be null", field=required)
    edit = ContactEdit()
    renames = {"dayOfCycle": "day_of_cycle", "ipAddress": "ip_address", "name": "name", "note": "note"}
    for key, attribute in renames.items():
        if key in sent:
            edit.standard[attribute] = getattr(data, key)
    if "scoring" in sent:
        edit.standard["scoring"] = None if data.scoring is None else float(data.scoring)
    if data.email is not None:
        edit.standard["email"] = data.email
    if data.campaign is not None:
        edit.standard["campaign_id"] = checked_campaign(store, data.campaign.campaignId)
    if data.tags is not None:
        edit.tags = checked_tags(store, [t.tagId for t in data.tags])
    if data.customFieldValues is not None:
        edit.custom = checked_fields(store, data.customFieldValues)
    return edit


def batch_drafts(store: Store, body: dict[str, Any]) -> list[ContactDraft]:
    """Every contact of a batch is checked before any is queued: one bad entry refuses the batch
    (our stricter choice), with the entry's index in `fieldName`."""
    data = parse_body(BatchIn, body)
    campaign_id = checked_campaign(store, data.campaignId)
    return [
        ContactDraft(
            email=item.email,
            campaign_id=campaign_id,
            name=item.name,
            day_of_cycle=item.dayOfCycle,
            scoring=item.scoring,
            ip_address=item.ipAddress,
            tags=checked_tags(store, item.tags.ids if item.tags else []),
            custom=checked_fields(store, item.customFieldValues or []),
        )
        for item in data.contacts
    ]
