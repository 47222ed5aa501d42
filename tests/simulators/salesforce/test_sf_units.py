"""Pure pieces of the Salesforce simulator: ids, date-time formats, SOQL parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.salesforce import ids, schema, soql, timefmt
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.errors import SalesforceError

ID15 = st.text(
    alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=15, max_size=15
)


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("0010g00001Z54O9", "0010g00001Z54O9AAJ"),
        ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ("000000000000000", "000000000000000AAA"),
    ],
)
def test_18_character_ids_carry_the_published_case_checksum(id15: str, id18: str) -> None:
    assert ids.to18(id15) == id18
    assert ids.normalize(id15) == id18
    assert ids.normalize(id18) == id18


@given(ID15)
def test_an_18_character_id_tells_apart_ids_that_differ_only_in_case(id15: str) -> None:
    swapped = id15.swapcase()
    if swapped != id15:
        assert ids.to18(id15).lower() != ids.to18(swapped).lower()


def test_an_18_character_id_with_a_wrong_checksum_is_not_an_id() -> None:
    assert ids.normalize("0010g00001Z54O9AAA") is None
    assert ids.normalize("not-an-id") is None
    assert ids.normalize("0010g00001Z54O") is None


def test_generated_ids_have_their_prefix_a_valid_checksum_and_creation_order() -> None:
    factory = ids.IdFactory(seed=1)
    made = [factory.new(ids.LEAD_PREFIX) for _ in range(50)]
    assert all(ids.is_valid(i, "00Q") for i in made)
    assert made == sorted(made)
    assert len(set(made)) == 50
    assert ids.is_valid(factory.new(ids.NOTIFICATION_PREFIX), "04l")


def test_the_default_org_and_users_are_valid_ids() -> None:
    config = SalesforceSimConfig()
    assert ids.is_valid(config.org_id, "00D")
    assert ids.is_valid(config.user_id, "005")
    with pytest.raises(ValueError, match="00D"):
        SalesforceSimConfig(org_id="00D5g0000SfGrSmAAA")


def test_rest_date_times_have_millis_and_a_colon_less_offset() -> None:
    moment = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert timefmt.rest(moment) == "2024-05-01T10:00:00.123+0000"
    assert timefmt.iso_z(moment) == "2024-05-01T10:00:00.123Z"
    assert timefmt.http_date(moment) == "Wed, 01 May 2024 10:00:00 GMT"


def test_only_imf_fixdate_http_dates_are_valid() -> None:
    assert timefmt.parse_http_date("Wed, 01 May 2024 10:00:00 GMT") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert timefmt.parse_http_date("Thu, 01 May 2024 10:00:00 GMT") is None  # wrong weekday
    assert timefmt.parse_http_date("Wednesday, 01-May-24 10:00:00 GMT") is None
    assert timefmt.parse_http_date("2024-05-01T10:00:00Z") is None


@pytest.mark.parametrize(
    "literal", ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000+0000", "2024-05-01T12:00:00+02:00"]
)
def test_soql_date_time_literals_in_every_documented_form(literal: str) -> None:
    assert timefmt.parse_soql_datetime(literal) == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_the_clock_never_goes_back_and_can_be_moved_forward() -> None:
    clock = timefmt.Clock()
    first = clock.now()
    assert clock.advance(3600) - first >= timedelta(seconds=3599)
    assert clock.now() >= first


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Id FRM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Email = 'a' AND Email = 'b' OR Email = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account", "INVALID_TYPE"),
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Owner.Name FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastModifiedDate > '2024-05-01T10:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Email = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE HasOptedOutOfEmail = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE LastModifiedDate > 2024-05-01T10:00:00 0000", "MALFORMED_QUERY"),
    ],
)
def test_bad_soql_is_refused_with_salesforce_error_codes(text: str, code: str) -> None:
    with pytest.raises(SalesforceError) as caught:
        soql.parse(text)
    assert caught.value.status == 400
    assert caught.value.errors[0].code == code


def test_soql_where_order_and_limit_follow_salesforce_semantics() -> None:
    rows = [
        {"Id": "a", "Email": "Pat@Example.com", "LeadSource": None, "HasOptedOutOfEmail": False},
        {"Id": "b", "Email": "zed@example.com", "LeadSource": "Web", "HasOptedOutOfEmail": True},
        {"Id": "c", "Email": None, "LeadSource": "Other", "HasOptedOutOfEmail": False},
    ]
    query = soql.parse("select id from LEAD where email = 'pat@example.COM'")
    assert [r["Id"] for r in query.run(rows)] == ["a"]
    assert [r["Id"] for r in soql.parse("SELECT Id FROM Lead WHERE LeadSource != 'Web'").run(rows)] == [
        "a",
        "c",
    ]
    ordered = soql.parse("SELECT Id FROM Lead ORDER BY LeadSource DESC LIMIT 2").run(rows)
    assert [r["Id"] for r in ordered] == ["b", "c"]
    ascending = soql.parse("SELECT Id FROM Lead ORDER BY Email").run(rows)
    assert [r["Id"] for r in ascending] == ["c", "a", "b"]
    grouped = soql.parse(
        "SELECT Id FROM Lead WHERE (LeadSource IN ('Web', 'other') OR Email LIKE 'pat%') AND NOT HasOptedOutOfEmail = true"
    ).run(rows)
    assert [r["Id"] for r in grouped] == ["a", "c"]
    assert soql.parse("SELECT COUNT() FROM Lead").count_only


def test_ids_sort_case_sensitively_while_text_sorts_without_case() -> None:
    # Ids count 0-9, A-Z, a-z: the record made after ...aZ is ...aa, and ORDER BY Id keeps that.
    rows = [
        {"Id": "00Q000000000aaEAA", "LastName": "Zed"},
        {"Id": "00Q000000000aZEAA", "LastName": "adams"},
    ]
    by_id = soql.parse("SELECT Id FROM Lead ORDER BY Id").run(rows)
    assert [r["Id"] for r in by_id] == ["00Q000000000aZEAA", "00Q000000000aaEAA"]
    by_name = soql.parse("SELECT Id FROM Lead ORDER BY LastName").run(rows)
    assert [r["LastName"] for r in by_name] == ["adams", "Zed"]


def test_a_semi_join_runs_its_subquery_over_the_rows_given_for_its_object() -> None:
    campaign, other = ids.to18("7015g0000000001"), ids.to18("7015g0000000002")
    first, second, third = (ids.to18(f"00Q5g000000000{n}") for n in (1, 2, 3))
    leads: list[dict[str, object]] = [{"Id": first}, {"Id": second}, {"Id": third}]
    members: list[dict[str, object]] = [
        {"CampaignId": campaign, "LeadId": first, "ContactId": None},
        {"CampaignId": other, "LeadId": second, "ContactId": None},
        {"CampaignId": campaign, "LeadId": None, "ContactId": ids.to18("0035g0000000001")},
    ]
    rows_of = {"CampaignMember": members}

    def related(sobject: schema.SObjectDef) -> list[dict[str, object]]:
        return list(rows_of[sobject.name])

    subquery = f"(SELECT LeadId FROM CampaignMember WHERE CampaignId = '{campaign[:15]}')"  # noqa: S608
    semi = soql.parse(f"SELECT Id FROM Lead WHERE Id IN {subquery}")  # noqa: S608 - SOQL
    anti = soql.parse(f"SELECT Id FROM Lead WHERE Id NOT IN {subquery}")  # noqa: S608 - SOQL
    assert [r["Id"] for r in semi.run(leads, related)] == [first]
    assert [r["Id"] for r in anti.run(leads, related)] == [second, third]
