"""The account every simulator starts with (and returns to on `POST /_sim/reset`).

The ids are stable so that tests, the demo and local configurations can name them; import the
constants rather than copying the strings. The field definitions follow api-contracts B7: `type`
is the data type, `format` the UI format (`fieldType` repeats it), `hidden` a "true"/"false" string.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CAMPAIGN_ID = "Gr7Mn"
SECOND_CAMPAIGN_ID = "Gr7Sc"

PHONE_FIELD_ID = "cfPhn"  # type phone: E.164 only, e.g. +48600100200
COUNTRY_FIELD_ID = "cfCty"  # type country: pycountry's English short name, e.g. "Poland"
COMPANY_FIELD_ID = "cfCmp"  # text
PHONE_TEXT_FIELD_ID = "cfPtx"  # text: where phones that are not valid E.164 go
LEAD_STATUS_FIELD_ID = "cfSts"  # single_select
GENDER_FIELD_ID = "cfGnd"  # gender
BIRTHDATE_FIELD_ID = "cfBdt"  # date
EMPLOYEES_FIELD_ID = "cfEmp"  # number
WEBSITE_FIELD_ID = "cfWeb"  # url
INTERESTS_FIELD_ID = "cfInt"  # multi_select

SYNCED_TAG_ID = "tgSyn"
VIP_TAG_ID = "tgVip"


@dataclass(frozen=True)
class SeedCampaign:
    campaign_id: str
    name: str
    is_default: bool


@dataclass(frozen=True)
class SeedField:
    field_id: str
    name: str
    type: str
    format: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedTag:
    tag_id: str
    name: str


CAMPAIGNS = (
    SeedCampaign(DEFAULT_CAMPAIGN_ID, "sfgr_main", is_default=True),
    SeedCampaign(SECOND_CAMPAIGN_ID, "sfgr_second", is_default=False),
)

CUSTOM_FIELDS = (
    SeedField(PHONE_FIELD_ID, "phone", "phone", "text"),
    SeedField(COUNTRY_FIELD_ID, "country", "country", "text"),
    SeedField(COMPANY_FIELD_ID, "company", "string", "text"),
    SeedField(PHONE_TEXT_FIELD_ID, "phone_text", "string", "text"),
    SeedField(
        LEAD_STATUS_FIELD_ID,
        "lead_status",
        "string",
        "single_select",
        ("New", "Working", "Qualified", "Unqualified"),
    ),
    SeedField(GENDER_FIELD_ID, "gender", "gender", "single_select", ("Male", "Female", "Prefer not to say")),
    SeedField(BIRTHDATE_FIELD_ID, "birthdate", "date", "text"),
    SeedField(EMPLOYEES_FIELD_ID, "employees", "number", "text"),
    SeedField(WEBSITE_FIELD_ID, "website", "url", "text"),
    SeedField(INTERESTS_FIELD_ID, "interests", "string", "multi_select", ("crm", "email", "ads")),
)

TAGS = (
    SeedTag(SYNCED_TAG_ID, "sfgr_synced"),
    SeedTag(VIP_TAG_ID, "vip"),
)
