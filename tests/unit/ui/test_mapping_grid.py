"""What the New sync wizard's grid means as a sync: one mapping per GetResponse field and
Salesforce field over the objects that map it, the name pair, checkboxes to text fields, and the
problems a validation names put beside their rows."""

from __future__ import annotations

from app.control.discovery import SalesforceFieldRead, Target
from app.control.syncs import SyncCreate
from app.domain.mapping import StandardField
from app.domain.sides import ObjectType
from app.ui.mapping_grid import Row, place_problems, sync_body

LEAD, CONTACT = ObjectType.LEAD, ObjectType.CONTACT
CUSTOM = {"cfPhn": ("phone", "phone"), "cfCty": ("country", "country"), "cfCmp": ("company", "string"),
          "cfFlag": ("flag", "string")}
ANSWERS = {
    "name": "Newsletter", "campaign_id": "Gr7Mn", "salesforce_objects": ["Lead", "Contact"], "soql_filter": "",
    "salesforce_campaign_id": "", "create_as": "Lead", "lead_source": "", "preferred_system": "salesforce",
    "marker_field": "", "set_opt_out": "on",
}


def row(object_type: ObjectType, name: str, chosen: str, type_: str = "string", required: bool = False) -> Row:
    targets = [Target(getresponse=i, name=n, type=t, allowed=True) for i, (n, t) in CUSTOM.items()]
    field = SalesforceFieldRead(name=name, label=name, type=type_, length=None, required=required,
                                updateable=True, picklist_values=[], targets=targets)
    return Row(object_type, field, chosen)


GRID = [
    row(LEAD, "Email", StandardField.EMAIL, "email"), row(CONTACT, "Email", StandardField.EMAIL, "email"),
    row(LEAD, "FirstName", StandardField.NAME), row(LEAD, "LastName", StandardField.NAME, required=True),
    row(CONTACT, "FirstName", StandardField.NAME), row(CONTACT, "LastName", StandardField.NAME, required=True),
    row(LEAD, "Phone", "cfPhn", "phone"), row(CONTACT, "Phone", "cfPhn", "phone"),
    row(LEAD, "Country", "cfCty"), row(CONTACT, "MailingCountry", "cfCty"),
    row(LEAD, "Company", "cfCmp", required=True), row(LEAD, "GRdeleted__c", "cfFlag", "boolean"),
    row(LEAD, "Status", "", "picklist", required=True), row(LEAD, "Title", ""),
]


def test_the_grid_becomes_one_mapping_per_field_over_the_objects_that_map_it() -> None:
    body = sync_body(ANSWERS, GRID, {i: t for i, (_, t) in CUSTOM.items()}, skip_unmapped=False)
    sync = SyncCreate.model_validate(body)
    by_name = {(m.name, m.salesforce_fields): m for m in sync.mapping.fields}
    assert by_name[("phone", ("Phone",))].objects == {LEAD, CONTACT}
    assert by_name[("name", ("FirstName", "LastName"))].getresponse is StandardField.NAME
    assert by_name[("country", ("Country",))].objects == {LEAD}
    assert by_name[("country", ("MailingCountry",))].objects == {CONTACT}
    assert by_name[("flag", ("GRdeleted__c",))].boolean is True
    assert sync.mapping.skipped == frozenset()
    assert sync.first_sync is True and sync.set_opt_out is True and sync.soql_filter is None


def test_skipping_unmapped_fields_skips_only_the_required_ones_left_unmapped() -> None:
    body = sync_body(ANSWERS, GRID, {i: t for i, (_, t) in CUSTOM.items()}, skip_unmapped=True)
    assert body["mapping"]["skipped"] == ["Status"]


def test_a_problem_goes_beside_the_row_it_names_and_the_rest_stay_general() -> None:
    rows = [row(LEAD, "Phone", "cfCmp", "phone"), row(CONTACT, "Phone", "cfCmp", "phone"), row(LEAD, "Company", "")]
    general = place_problems(rows, [
        "Lead.Phone holds phone values, which ...",
        "Company is required on Leads: map it to a GetResponse field.",
        "Fields 'a' and 'b' go to the same GetResponse field.",
    ])
    assert rows[0].problems == ["Lead.Phone holds phone values, which ..."]
    assert rows[1].problems == []
    assert rows[2].problems == ["Company is required on Leads: map it to a GetResponse field."]
    assert general == ["Fields 'a' and 'b' go to the same GetResponse field."]
