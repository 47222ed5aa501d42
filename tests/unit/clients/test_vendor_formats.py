"""The vendors' wire formats the clients read: Salesforce date-times and `Sforce-Limit-Info`,
GetResponse's "N seconds" and timestamps (api-contracts C6, C7, C11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.clients import getresponse_formats as gr
from app.clients import salesforce_formats as sf

MAY_FIRST = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T10:00:00.000+0000", MAY_FIRST),
        ("2024-05-01T10:00:00.250+0000", MAY_FIRST + timedelta(milliseconds=250)),
        ("2024-05-01T10:00:00.000Z", MAY_FIRST),
        ("2024-05-01T10:00:00Z", MAY_FIRST),
        ("2024-05-01T12:00:00.000+02:00", MAY_FIRST),
        ("2024-05-01T12:00:00.000+0200", MAY_FIRST),
        ("2024-05-01T05:30:00.000-0430", MAY_FIRST),
        ("2024-05-01T10:00:00", MAY_FIRST),
    ],
)
def test_salesforce_date_times_in_every_spelling_parse_to_utc(raw: str, expected: datetime) -> None:
    parsed = sf.parse_datetime(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "raw", ["", "2024-05-01", "yesterday", "2024-05-01 10:00:00+0000", "2024-13-01T10:00:00Z"]
)
def test_text_that_is_not_a_salesforce_date_time_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        sf.parse_datetime(raw)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
        ),
    )
)
def test_a_salesforce_date_time_survives_formatting_and_parsing_to_the_millisecond(value: datetime) -> None:
    text = sf.format_datetime(value)
    assert text.endswith("+0000") and len(text) == len("2024-05-01T10:00:00.000+0000")
    assert sf.parse_datetime(text) == value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_if_unmodified_since_is_an_http_date_truncated_to_the_second() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 59, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert sf.http_date(moment) == "Wed, 01 May 2024 10:00:59 GMT"


def test_a_naive_instant_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError):
        sf.http_date(datetime(2024, 5, 1, 10, 0))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=25/15000", (25, 15000)),
        ("api-usage=18/5000, per-app-api-usage=17/250(appName=sample-app)", (18, 5000)),
        ("per-app-api-usage=17/250(appName=x), api-usage=3/100", (3, 100)),
        ("API-Usage = 7 / 10", (7, 10)),
        (None, None),
        ("", None),
        ("per-app-api-usage=17/250(appName=x)", None),
        ("api-usage=lots", None),
    ],
)
def test_sforce_limit_info_gives_the_orgs_usage(header: str | None, expected: tuple[int, int] | None) -> None:
    assert sf.parse_limit_info(header) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("432 seconds", 432.0),
        ("1 second", 1.0),
        ("0 seconds", 0.0),
        ("  100 seconds ", 100.0),
        ("5", 5.0),
        ("2.5 seconds", 2.5),
        (7, 7.0),
        (1.5, 1.5),
        ("soon", None),
        ("-3 seconds", None),
        (-3, None),
        ("", None),
        (None, None),
        (True, None),
        ("10 minutes", None),
    ],
)
def test_getresponse_n_seconds_is_read_as_seconds(raw: object, expected: float | None) -> None:
    assert gr.parse_seconds(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2024-05-01T10:00:00+0000",
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T10:00:00Z",
    ],
)
def test_getresponse_api_and_webhook_timestamps_both_parse(raw: str) -> None:
    assert gr.parse_datetime(raw) == MAY_FIRST


def test_changed_on_query_bound_is_whole_seconds_with_a_colon_less_offset() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 700_000, tzinfo=timezone(timedelta(hours=2)))
    assert gr.format_query_time(moment) == "2024-05-01T10:00:00+0000"
