"""The sync the local stack sets up between the simulators' seeded org and list."""

from __future__ import annotations

from app.domain.mapping import CustomFieldTarget, CustomFieldType, FieldMapping, StandardField, SyncMapping
from app.domain.sides import ObjectType

# Seed ids of the GetResponse simulator (simulators/README.md, "Seed data").
MAIN_LIST = "Gr7Mn"
PHONE_FIELD = "cfPhn"
COUNTRY_FIELD = "cfCty"
COMPANY_FIELD = "cfCmp"

DEMO_MAPPING = SyncMapping(
    fields=(
        FieldMapping(name="email", salesforce="Email", getresponse=StandardField.EMAIL),
        FieldMapping(name="name", salesforce=("FirstName", "LastName"), getresponse=StandardField.NAME),
        FieldMapping(
            name="phone",
            salesforce="Phone",
            getresponse=CustomFieldTarget(custom_field_id=PHONE_FIELD, type=CustomFieldType.PHONE),
        ),
        FieldMapping(
            name="country",
            salesforce="Country",
            objects=frozenset({ObjectType.LEAD}),
            getresponse=CustomFieldTarget(custom_field_id=COUNTRY_FIELD, type=CustomFieldType.COUNTRY),
        ),
        FieldMapping(
            name="country",
            salesforce="MailingCountry",
            objects=frozenset({ObjectType.CONTACT}),
            getresponse=CustomFieldTarget(custom_field_id=COUNTRY_FIELD, type=CustomFieldType.COUNTRY),
        ),
        FieldMapping(
            name="company",
            salesforce="Company",
            objects=frozenset({ObjectType.LEAD}),
            getresponse=CustomFieldTarget(custom_field_id=COMPANY_FIELD, type=CustomFieldType.STRING),
        ),
    ),
)
