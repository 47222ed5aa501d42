"""A sync's soql_filter is one WHERE condition: it cannot close the parentheses it is wrapped in,
nor add another clause to the query."""

from __future__ import annotations

import pytest

from app.domain.groups import soql_filter_problem


@pytest.mark.parametrize(
    "condition",
    [
        "LeadSource = 'Web'",
        "LeadSource = 'Web' AND (Rating = 'Hot' OR Rating = 'Warm')",
        "Company LIKE '%(Acme%'",  # parentheses inside a literal do not count
        r"Description = 'it\'s ) here'",  # an escaped quote does not end the literal
        "CreatedDate = LAST_N_DAYS:30 AND Status != 'Closed - Converted'",
        "Id IN (SELECT LeadId FROM CampaignMember WHERE CampaignId = '701000000000001')",  # a semi-join
        "Selected__c = true AND Order_Count__c > 2",  # words that only begin with a clause word
    ],
)
def test_a_where_condition_passes(condition: str) -> None:
    assert soql_filter_problem(condition) is None


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("LeadSource='Web') OR (Id != null", "closes a parenthesis the filter did not open"),
        ("(LeadSource = 'Web'", "not closed; parentheses must balance"),
        ("LeadSource = 'Web", "string literal"),
        ("LeadSource = 'Web' LIMIT 1", "'LIMIT' begins another clause"),
        ("LeadSource = 'Web' ORDER BY Name", "'ORDER' begins another clause"),
        ("Id != null FOR UPDATE", "'FOR' begins another clause"),
        ("Id != null; DELETE", "';' has no place"),
    ],
)
def test_anything_else_is_refused_with_the_reason(condition: str, words: str) -> None:
    problem = soql_filter_problem(condition)
    assert problem is not None and words in problem
