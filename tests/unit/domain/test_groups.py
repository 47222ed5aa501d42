"""The sync's group as one SOQL condition (app/domain/groups.py)."""

from __future__ import annotations

import pytest

from app.domain.groups import group_condition, same_salesforce_id
from app.domain.sides import ObjectType

CAMPAIGN = "7015g000001AbCd"
MEMBERS = "Id IN (SELECT LeadId FROM CampaignMember WHERE CampaignId = '7015g000001AbCd')"


def test_without_filter_or_campaign_every_record_is_in_the_group() -> None:
    assert group_condition(ObjectType.LEAD, soql_filter=None, campaign_id=None) is None


def test_a_campaign_is_a_semi_join_on_the_member_field_of_each_object() -> None:
    assert group_condition(ObjectType.LEAD, soql_filter=None, campaign_id=CAMPAIGN) == MEMBERS
    assert "SELECT ContactId FROM CampaignMember" in (
        group_condition(ObjectType.CONTACT, soql_filter=None, campaign_id=CAMPAIGN) or ""
    )


def test_filter_and_campaign_both_apply() -> None:
    condition = group_condition(ObjectType.LEAD, soql_filter="LeadSource = 'Web' OR Rating = 'Hot'",
                                campaign_id=CAMPAIGN)
    assert condition == f"(LeadSource = 'Web' OR Rating = 'Hot') AND {MEMBERS}"


@pytest.mark.parametrize("campaign_id", ["00Q5g000001AbCd", "701' OR Id != '", "7015g000001AbC"])
def test_anything_but_a_campaign_id_is_refused(campaign_id: str) -> None:
    with pytest.raises(ValueError, match="not a Salesforce Campaign id"):
        group_condition(ObjectType.LEAD, soql_filter=None, campaign_id=campaign_id)


def test_the_15_and_18_character_forms_name_the_same_record() -> None:
    assert same_salesforce_id(CAMPAIGN, CAMPAIGN + "AAK")
    assert not same_salesforce_id(CAMPAIGN, "7015g000001AbCe")
