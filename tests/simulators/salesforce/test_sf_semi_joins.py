"""SOQL semi-joins and anti-joins over CampaignMember: a sync's group "members of Campaign X"
(SOQL and SOSL Reference, "Comparison Operators", semi-join and anti-join restrictions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.simulators.salesforce.harness import SalesforceSim

# SOQL built from ids the simulator made, as the sync builds it: not SQL.
# ruff: noqa: S608


@dataclass(frozen=True)
class Org:
    campaign: str
    other_campaign: str
    members: list[str]  # Leads in `campaign`
    outsiders: list[str]  # Leads in no Campaign, or only in `other_campaign`
    contact: str  # a Contact in `campaign`


@pytest.fixture
def org(sim: SalesforceSim) -> Org:
    campaign, other = sim.create("Campaign", Name="Webinar"), sim.create("Campaign", Name="Fair")
    members = [sim.create(Email="ann@x.com"), sim.create(Email="bob@y.com")]
    outsiders = [sim.create(Email="cid@x.com"), sim.create(Email="dan@x.com")]
    contact = sim.create("Contact", Email="eve@x.com")
    for lead_id in members:
        sim.create("CampaignMember", CampaignId=campaign, LeadId=lead_id)
    sim.create("CampaignMember", CampaignId=other, LeadId=outsiders[1])
    sim.create("CampaignMember", CampaignId=campaign, ContactId=contact)
    return Org(campaign, other, members, outsiders, contact)


def _ids(sim: SalesforceSim, soql: str) -> list[str]:
    response = sim.api.get("/query", params={"q": soql})
    assert response.status_code == 200, response.text
    return [r["Id"] for r in response.json()["records"]]


def _refusal(sim: SalesforceSim, soql: str) -> dict[str, Any]:
    response = sim.api.get("/query", params={"q": soql})
    assert response.status_code == 400, response.text
    [error] = response.json()
    assert isinstance(error, dict)
    return error


def _in_campaign(campaign: str, field: str = "LeadId") -> str:
    return f"(SELECT {field} FROM CampaignMember WHERE CampaignId = '{campaign}')"


def test_semi_join_selects_the_leads_of_one_campaign(sim: SalesforceSim, org: Org) -> None:
    soql = f"SELECT Id FROM Lead WHERE Id IN {_in_campaign(org.campaign)} ORDER BY Email"
    assert _ids(sim, soql) == org.members


def test_anti_join_selects_the_leads_outside_the_campaign(sim: SalesforceSim, org: Org) -> None:
    soql = f"SELECT Id FROM Lead WHERE Id NOT IN {_in_campaign(org.campaign)} ORDER BY Email"
    assert _ids(sim, soql) == org.outsiders


def test_semi_join_takes_the_campaign_id_in_15_or_18_characters(sim: SalesforceSim, org: Org) -> None:
    soql = "SELECT Id FROM Lead WHERE Id IN {} ORDER BY Email"
    assert _ids(sim, soql.format(_in_campaign(org.campaign[:15]))) == org.members
    assert _ids(sim, soql.format(_in_campaign(org.campaign))) == org.members


def test_semi_join_on_contacts_goes_through_contact_id(sim: SalesforceSim, org: Org) -> None:
    assert _ids(sim, f"SELECT Id FROM Contact WHERE Id IN {_in_campaign(org.campaign, 'ContactId')}") == [
        org.contact
    ]


def test_semi_join_combines_with_other_conditions(sim: SalesforceSim, org: Org) -> None:
    member_in_x = f"SELECT Id FROM Lead WHERE (Email LIKE '%@x.com') AND Id IN {_in_campaign(org.campaign)}"
    assert _ids(sim, member_in_x) == [org.members[0]]
    either_domain = (
        f"SELECT Id FROM Lead WHERE Id IN {_in_campaign(org.campaign)} "
        "AND (Email LIKE '%@x.com' OR Email LIKE '%@y.com') ORDER BY Email"
    )
    assert _ids(sim, either_domain) == org.members
    # Parenthesised inside an AND chain is still the top level; two joins are allowed.
    in_fair_not_webinar = (
        f"SELECT Id FROM Lead WHERE (Id IN {_in_campaign(org.other_campaign)}) "
        f"AND Id NOT IN {_in_campaign(org.campaign)}"
    )
    assert _ids(sim, in_fair_not_webinar) == [org.outsiders[1]]
    count = sim.api.get(
        "/query", params={"q": f"SELECT COUNT() FROM Lead WHERE Id IN {_in_campaign(org.campaign)}"}
    )
    assert count.json()["totalSize"] == 2


def test_semi_join_subquery_filters_members_by_their_own_fields(sim: SalesforceSim, org: Org) -> None:
    responded = sim.api.get(
        "/query", params={"q": f"SELECT Id FROM CampaignMember WHERE LeadId = '{org.members[1]}'"}
    )
    [row] = responded.json()["records"]
    sim.api.patch(f"/sobjects/CampaignMember/{row['Id']}", json={"Status": "Responded"})
    soql = (
        "SELECT Id FROM Lead WHERE Id IN (SELECT LeadId FROM CampaignMember "
        f"WHERE CampaignId = '{org.campaign}' AND HasResponded = true)"
    )
    assert _ids(sim, soql) == [org.members[1]]
    campaigns_with_leads = (
        "SELECT Id FROM Campaign WHERE Id IN (SELECT CampaignId FROM CampaignMember WHERE LeadId != null)"
    )
    assert set(_ids(sim, campaigns_with_leads)) == {org.campaign, org.other_campaign}


def test_members_of_a_deleted_campaign_match_nothing(sim: SalesforceSim, org: Org) -> None:
    assert sim.api.delete(f"/sobjects/Campaign/{org.campaign}").status_code == 204
    assert _ids(sim, f"SELECT Id FROM Lead WHERE Id IN {_in_campaign(org.campaign)}") == []
    assert len(_ids(sim, f"SELECT Id FROM Lead WHERE Id NOT IN {_in_campaign(org.campaign)}")) == 4


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        pytest.param(
            "Id IN (SELECT Status FROM CampaignMember)",
            "MALFORMED_QUERY",
            "semi join sub selects can only query id fields, cannot use: 'Status'",
            id="subquery-selects-a-non-id-field",
        ),
        pytest.param(
            "Id IN (SELECT LeadId, CampaignId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "unexpected token: ','",
            id="subquery-selects-two-fields",
        ),
        pytest.param(
            "Email IN (SELECT LeadId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "semi join sub selects are only supported on id or reference fields, cannot use: 'Email'",
            id="left-operand-is-not-an-id",
        ),
        pytest.param(
            "Id IN (SELECT ContactId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "must point to the same object type",
            id="subquery-field-points-at-another-object",
        ),
        pytest.param(
            "Id IN (SELECT ConvertedContactId FROM Lead)",
            "MALFORMED_QUERY",
            "The inner and outer selects should not be on the same object type",
            id="subquery-on-the-same-object",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM CampaignMember WHERE CampaignId IN (SELECT Id FROM Campaign))",
            "MALFORMED_QUERY",
            "Nesting of semi join sub-selects is not supported",
            id="nested-semi-join",
        ),
        pytest.param(
            "Email = 'ann@x.com' OR Id IN (SELECT LeadId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "Semi join sub-selects are not allowed with the 'OR' operator",
            id="or-at-the-top-level",
        ),
        pytest.param(
            "Email LIKE '%@x.com' AND (Email = 'ann@x.com' OR Id IN (SELECT LeadId FROM CampaignMember))",
            "MALFORMED_QUERY",
            "Semi join sub-selects are only allowed at the top level WHERE expressions",
            id="or-in-parentheses",
        ),
        pytest.param(
            "NOT Id IN (SELECT LeadId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "Semi join sub-selects are not allowed with the 'NOT' operator",
            id="not-before-a-semi-join",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM CampaignMember ORDER BY CreatedDate)",
            "MALFORMED_QUERY",
            "unexpected token: 'ORDER'",
            id="order-by-in-the-subquery",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM CampaignMember LIMIT 10)",
            "MALFORMED_QUERY",
            "unexpected token: 'LIMIT'",
            id="limit-in-the-subquery",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM CampaignMember) AND Id IN (SELECT LeadId FROM CampaignMember) "
            "AND Id NOT IN (SELECT LeadId FROM CampaignMember)",
            "MALFORMED_QUERY",
            "Maximum of 2 semi join sub-selects are allowed",
            id="three-semi-joins",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM Membership)",
            "INVALID_TYPE",
            "sObject type 'Membership' is not supported",
            id="unknown-subquery-object",
        ),
        pytest.param(
            "Id IN (SELECT LeadId FROM CampaignMember WHERE Campaign = 'x')",
            "INVALID_FIELD",
            "No such column 'Campaign' on entity 'CampaignMember'",
            id="unknown-subquery-field",
        ),
    ],
)
def test_refused_semi_join_forms(sim: SalesforceSim, where: str, code: str, message: str) -> None:
    error = _refusal(sim, f"SELECT Id FROM Lead WHERE {where}")
    assert error["errorCode"] == code
    assert message in error["message"]


def test_a_refused_semi_join_points_at_the_offending_field(sim: SalesforceSim) -> None:
    soql = "SELECT Id FROM Lead WHERE Id IN (SELECT Status FROM CampaignMember)"
    message = _refusal(sim, soql)["message"]
    column = soql.index("Status") + 1
    assert f"ERROR at Row:1:Column:{column}\n" in message
