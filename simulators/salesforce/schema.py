"""The sObjects the simulator models (Lead, Contact, Campaign, CampaignMember) and their describe.

Facts from api-contracts A3 "Fields of interest": Lead requires LastName (80) and Company (255),
Contact requires LastName; FirstName 40, Email 80, Phone 40; `Country` on Lead, `MailingCountry`
on Contact (UNCONFIRMED there; we follow it). `Status` is required but defaulted on create
("Open - Not Contacted"; the default is UNCONFIRMED, we apply one, as orgs do). `GRdeleted__c` is
the custom checkbox the sync uses to mark people removed from the GetResponse list.

`Name` and the addresses of Lead and Contact are read-only compound fields: REST and SOQL render
`Name` as one string and `Address`/`MailingAddress` as an object; CDC nests their components (A2
"Compound fields"). A Campaign's `Name` is a plain required text field.
Picklists are unrestricted, as standard picklists are by default: any value is stored (the
CampaignMember `Status` is the exception: see `membership.py`).

Campaign and CampaignMember follow the Object Reference: a member links one Campaign to a Lead or
a Contact; CampaignId, LeadId and ContactId are set on create only; `HasResponded` is read-only
and follows `Status`. A member has no owner, and its delete is a hard delete (no Recycle Bin,
describe says `undeletable: false`). Its lookups are `cascade_delete`: while the Campaign, Lead or
Contact it points to is in the Recycle Bin, the member counts as deleted too (see store.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulators.salesforce import ids

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "address": "urn:address",
}


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    defaulted_on_create: bool = False
    default: Any = None
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    compound: str | None = None  # the compound field this one is a component of
    component: str | None = None  # its name inside the compound ("City" for MailingCity)
    calculated: bool = False
    in_change_events: bool = True  # IsDeleted and SystemModstamp never are (A2)
    cascade_delete: bool = False  # the record counts as deleted while the one referenced is

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        text = self.type in {"string", "email", "phone", "picklist", "textarea", "id", "reference"}
        return {
            "aggregatable": self.type not in {"address", "textarea"},
            "autoNumber": False,
            "byteLength": self.length * 3 if text else 0,
            "calculated": self.calculated,
            "caseSensitive": False,
            "compoundFieldName": self.compound,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.defaulted_on_create,
            "externalId": False,
            "filterable": self.type != "address",
            "idLookup": self.name in {"Id", "Email"},
            "label": self.label,
            "length": self.length if text else 0,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default, "label": v, "validFor": None, "value": v}
                for v in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type == "reference" else None,
            "restrictedPicklist": False,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type not in {"address", "textarea"},
            "type": self.type,
            "unique": False,
            "updateable": self.updateable,
        }


@dataclass(frozen=True)
class SObjectDef:
    name: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    label: str = ""
    recycle_bin: bool = True  # False: a delete removes the record for good (undeletable: false)
    _by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    _cascades: list[FieldDef] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})
        self._cascades.extend(f for f in self.fields if f.cascade_delete)

    def field(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in REST bodies and SOQL; this gives the canonical one."""
        return self._by_lower.get(name.lower())

    @property
    def cascades(self) -> list[FieldDef]:
        """The references whose record, once deleted, takes this one along (`cascade_delete`)."""
        return self._cascades

    def components(self, compound: str) -> list[FieldDef]:
        return [f for f in self.fields if f.compound == compound]

    @property
    def stored(self) -> list[FieldDef]:
        return [f for f in self.fields if not f.calculated]

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return self.summary(version) | {
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [],
            "recordTypeInfos": [],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def summary(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label or self.name,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "undeletable": self.recycle_bin,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "replicateable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def _read_only(name: str, label: str, kind: str, length: int = 0, **options: Any) -> FieldDef:
    return FieldDef(name, label, kind, length, createable=False, updateable=False, **options)


def _checkbox(name: str, label: str, **options: Any) -> FieldDef:
    return FieldDef(
        name, label, "boolean", nillable=False, defaulted_on_create=True, default=False, **options
    )


LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other", "GetResponse")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
_SYSTEM: dict[str, Any] = {"nillable": False, "defaulted_on_create": True}
_USER = ("User",)


CAMPAIGN_TYPES = (
    "Conference", "Webinar", "Trade Show", "Public Relations", "Partners", "Referral Program",
    "Advertisement", "Banner Ads", "Direct Mail", "Email", "Telemarketing", "Other",
)  # fmt: skip
CAMPAIGN_STATUSES = ("Planned", "In Progress", "Completed", "Aborted")
MEMBER_STATUSES = ("Sent", "Responded")  # the two statuses a new Campaign starts with
MEMBER_DEFAULT_STATUS = "Sent"


# fmt: off
def _identity(prefix: str) -> list[FieldDef]:
    return [
        _read_only("Id", f"{prefix} ID", "id", 18, **_SYSTEM),
        _read_only("IsDeleted", "Deleted", "boolean", default=False, in_change_events=False, **_SYSTEM),
    ]


def _head(prefix: str) -> list[FieldDef]:
    return [
        *_identity(prefix),
        FieldDef("LastName", "Last Name", "string", 80, nillable=False, compound="Name",
                 component="LastName"),
        FieldDef("FirstName", "First Name", "string", 40, compound="Name", component="FirstName"),
        _read_only("Name", "Full Name", "string", 121, nillable=False, calculated=True),
        FieldDef("Title", "Title", "string", 128),
    ]


def _address(prefix: str, compound: str) -> list[FieldDef]:
    return [
        FieldDef(f"{prefix}Street", "Street", "textarea", 255, compound=compound, component="Street"),
        FieldDef(f"{prefix}City", "City", "string", 40, compound=compound, component="City"),
        FieldDef(f"{prefix}State", "State/Province", "string", 80, compound=compound, component="State"),
        FieldDef(f"{prefix}PostalCode", "Zip/Postal Code", "string", 20, compound=compound,
                 component="PostalCode"),
        FieldDef(f"{prefix}Country", "Country", "string", 80, compound=compound, component="Country"),
        _read_only(compound, "Address", "address", calculated=True),
    ]


def _contact_points() -> list[FieldDef]:
    return [
        FieldDef("Phone", "Phone", "phone", 40),
        FieldDef("Email", "Email", "email", 80),
        FieldDef("LeadSource", "Lead Source", "picklist", 255, picklist=LEAD_SOURCES),
        _checkbox("HasOptedOutOfEmail", "Email Opt Out"),
        _checkbox("GRdeleted__c", "GR deleted", custom=True),
    ]


def _audit() -> list[FieldDef]:
    return [
        FieldDef("OwnerId", "Owner ID", "reference", 18, nillable=False, defaulted_on_create=True,
                 reference_to=_USER),
        *_stamps(),
    ]


def _stamps() -> list[FieldDef]:
    return [
        _read_only("CreatedDate", "Created Date", "datetime", **_SYSTEM),
        _read_only("CreatedById", "Created By ID", "reference", 18, reference_to=_USER, **_SYSTEM),
        _read_only("LastModifiedDate", "Last Modified Date", "datetime", **_SYSTEM),
        _read_only("LastModifiedById", "Last Modified By ID", "reference", 18, reference_to=_USER, **_SYSTEM),
        _read_only("SystemModstamp", "System Modstamp", "datetime", in_change_events=False, **_SYSTEM),
    ]


LEAD = SObjectDef("Lead", "Leads", ids.LEAD_PREFIX, (
    *_head("Lead"),
    FieldDef("Company", "Company", "string", 255, nillable=False),
    *_address("", "Address"),
    *_contact_points(),
    FieldDef("Status", "Lead Status", "picklist", 255, nillable=False, defaulted_on_create=True,
             default="Open - Not Contacted", picklist=LEAD_STATUSES),
    _read_only("IsConverted", "Converted", "boolean", default=False, **_SYSTEM),
    _read_only("ConvertedDate", "Converted Date", "date"),
    _read_only("ConvertedContactId", "Converted Contact ID", "reference", 18, reference_to=("Contact",)),
    *_audit(),
))

CONTACT = SObjectDef("Contact", "Contacts", ids.CONTACT_PREFIX, (
    *_head("Contact"),
    *_address("Mailing", "MailingAddress"),
    *_contact_points(),
    *_audit(),
))

CAMPAIGN = SObjectDef("Campaign", "Campaigns", ids.CAMPAIGN_PREFIX, (
    *_identity("Campaign"),
    FieldDef("Name", "Name", "string", 80, nillable=False),
    FieldDef("Type", "Type", "picklist", 40, picklist=CAMPAIGN_TYPES),
    FieldDef("Status", "Status", "picklist", 40, picklist=CAMPAIGN_STATUSES),
    _checkbox("IsActive", "Active"),
    *_audit(),
))

CAMPAIGN_MEMBER = SObjectDef("CampaignMember", "Campaign Members", ids.CAMPAIGN_MEMBER_PREFIX, (
    *_identity("Campaign Member"),
    FieldDef("CampaignId", "Campaign ID", "reference", 18, nillable=False, updateable=False,
             reference_to=("Campaign",), cascade_delete=True),
    FieldDef("LeadId", "Lead ID", "reference", 18, updateable=False, reference_to=("Lead",),
             cascade_delete=True),
    FieldDef("ContactId", "Contact ID", "reference", 18, updateable=False, reference_to=("Contact",),
             cascade_delete=True),
    FieldDef("Status", "Status", "picklist", 40, defaulted_on_create=True,
             default=MEMBER_DEFAULT_STATUS, picklist=MEMBER_STATUSES),
    _read_only("HasResponded", "Responded", "boolean", default=False, **_SYSTEM),
    _read_only("FirstRespondedDate", "First Responded Date", "date"),
    *_stamps(),
), label="Campaign Member", recycle_bin=False)
# fmt: on

SOBJECTS: dict[str, SObjectDef] = {
    "Lead": LEAD,
    "Contact": CONTACT,
    "Campaign": CAMPAIGN,
    "CampaignMember": CAMPAIGN_MEMBER,
}


def sobject(name: str) -> SObjectDef | None:
    """sObject names are case-insensitive in URLs and SOQL, as in Salesforce."""
    return next((d for n, d in SOBJECTS.items() if n.lower() == name.lower()), None)


def referenced(definition: FieldDef) -> SObjectDef | None:
    """The sObject whose records a reference field names, when the simulator holds them (a User
    reference gives None: users are configuration, not records)."""
    return SOBJECTS.get(definition.reference_to[0]) if definition.reference_to else None
