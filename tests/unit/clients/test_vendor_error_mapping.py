"""Vendor errors become the few classes a consumer decides on (style.md "Errors are values at the
edge"; api-contracts A3, A4, B10, C4, C5)."""

from __future__ import annotations

from typing import Any

import pytest

from app.clients import errors
from app.clients.getresponse_errors import getresponse_error
from app.clients.salesforce_errors import record_error, rest_error, token_error


def sf_body(code: str, message: str = "m", fields: list[str] | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"errorCode": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return [body]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, sf_body("REQUIRED_FIELD_MISSING", fields=["LastName"]), errors.Permanent),
        (400, sf_body("INVALID_FIELD"), errors.Permanent),
        (400, sf_body("MALFORMED_ID"), errors.Permanent),
        (400, sf_body("CANNOT_UPDATE_CONVERTED_LEAD"), errors.Permanent),
        (401, sf_body("INVALID_SESSION_ID"), errors.Unauthorized),
        (403, sf_body("REQUEST_LIMIT_EXCEEDED"), errors.RateLimited),
        (403, sf_body("INSUFFICIENT_ACCESS"), errors.Permanent),
        (404, sf_body("NOT_FOUND"), errors.NotFound),
        (404, sf_body("ENTITY_IS_DELETED"), errors.NotFound),
        (409, sf_body("UNABLE_TO_LOCK_ROW"), errors.Transient),
        (400, sf_body("UNABLE_TO_LOCK_ROW"), errors.Transient),
        (409, sf_body("SOMETHING_ELSE"), errors.Conflict),
        (412, sf_body("PRECONDITION_FAILED"), errors.PreconditionFailed),
        (500, sf_body("UNKNOWN_EXCEPTION"), errors.Transient),
        (503, sf_body("SERVER_UNAVAILABLE"), errors.Transient),
        (502, None, errors.Transient),
        (408, None, errors.Transient),
        (415, sf_body("UNSUPPORTED_MEDIA_TYPE"), errors.Permanent),
        (300, [{"a": 1}], errors.Permanent),
        (429, None, errors.RateLimited),
    ],
)
def test_salesforce_rest_errors_map_by_status_and_error_code(
    status: int, body: Any, expected: type[errors.VendorError]
) -> None:
    error = rest_error(status, body, limit_retry_after=300.0)
    assert type(error) is expected
    assert error.vendor == "salesforce" and error.status == status


def test_salesforce_error_keeps_code_message_and_fields_for_the_dead_letter() -> None:
    body = sf_body("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])
    error = rest_error(400, body, limit_retry_after=1.0)
    assert error.code == "REQUIRED_FIELD_MISSING"
    assert error.fields == ("LastName",)
    assert error.reason == (
        "salesforce 400 REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)"
    )


def test_salesforce_quota_refusal_waits_as_long_as_the_caller_says() -> None:
    error = rest_error(403, sf_body("REQUEST_LIMIT_EXCEEDED"), limit_retry_after=300.0)
    assert isinstance(error, errors.RateLimited) and error.retry_after == 300.0


def duplicate_body(key: str, ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "errorCode": "DUPLICATES_DETECTED",
            "message": "Use one of these records?",
            key: {
                "allowSave": False,
                "matchResults": [
                    {
                        "entityType": "Lead",
                        "matchRecords": [{"record": {"Id": i}} for i in ids],
                        "size": len(ids),
                    }
                ],
            },
        }
    ]


@pytest.mark.parametrize("key", ["duplicateResut", "duplicateResult"])
def test_duplicate_rule_refusal_names_the_matched_records_under_either_spelling(key: str) -> None:
    error = rest_error(
        400, duplicate_body(key, ["00Q000000000001AAA", "00Q000000000002AAA"]), limit_retry_after=0
    )
    assert isinstance(error, errors.DuplicatesDetected)
    assert isinstance(error, errors.Permanent)
    assert error.matched_ids == ("00Q000000000001AAA", "00Q000000000002AAA")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("REQUIRED_FIELD_MISSING", errors.Permanent),
        ("ENTITY_IS_DELETED", errors.NotFound),
        ("NOT_FOUND", errors.NotFound),
        ("DUPLICATES_DETECTED", errors.DuplicatesDetected),
        ("ALL_OR_NONE_OPERATION_ROLLED_BACK", errors.Transient),
        ("UNABLE_TO_LOCK_ROW", errors.Transient),
    ],
)
def test_collection_record_errors_are_read_from_status_code(
    code: str, expected: type[errors.VendorError]
) -> None:
    error = record_error([{"statusCode": code, "message": "m", "fields": ["Email"]}])
    assert type(error) is expected
    assert error.code == code and error.fields == ("Email",)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
            errors.Unauthorized,
        ),
        (
            400,
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            errors.Unauthorized,
        ),
        (400, {"error": "inactive_user"}, errors.Unauthorized),
        (400, {"error": "unsupported_grant_type"}, errors.Unauthorized),
        (400, {"error": "rate_limit_exceeded"}, errors.RateLimited),
        (503, {"error": "temporarily_unavailable"}, errors.Transient),
        (500, None, errors.Transient),
    ],
)
def test_token_endpoint_errors_map_by_oauth_error(
    status: int, body: Any, expected: type[errors.VendorError]
) -> None:
    assert type(token_error(status, body)) is expected


def gr_body(status: int, code: int, context: Any = None) -> dict[str, Any]:
    return {
        "httpStatus": status,
        "code": code,
        "codeDescription": "d",
        "message": "m",
        "moreInfo": f"https://apidocs.getresponse.com/en/v3/errors/{code}",
        "context": context if context is not None else [],
        "uuid": "u",
    }


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 1000, errors.Permanent),
        (400, 1001, errors.Permanent),
        (400, 1002, errors.Permanent),
        (400, 1003, errors.Permanent),
        (401, 1014, errors.Unauthorized),
        (403, 1014, errors.Unauthorized),
        (404, 1013, errors.NotFound),
        (409, 1008, errors.Conflict),
        (429, 1015, errors.RateLimited),
        (500, 1, errors.Transient),
        (503, 1, errors.Transient),
    ],
)
def test_getresponse_errors_map_by_http_status_and_code(
    status: int, code: int, expected: type[errors.VendorError]
) -> None:
    error = getresponse_error(status, gr_body(status, code), {})
    assert type(error) is expected
    assert error.vendor == "getresponse" and error.code == code


def test_getresponse_validation_error_names_its_field() -> None:
    context = {
        "validationType": "invalid",
        "fieldName": "email",
        "originalName": "email",
        "errorDescription": "x",
    }
    error = getresponse_error(400, gr_body(400, 1000, context), {})
    assert error.fields == ("email",)


@pytest.mark.parametrize(
    ("context", "headers", "expected"),
    [
        ({"currentLimit": 30000, "timeToReset": "100 seconds"}, {"X-RateLimit-Reset": "432 seconds"}, 100.0),
        ({"currentLimit": 80}, {"Retry-After": "3", "X-RateLimit-Reset": "432 seconds"}, 3.0),
        ({"currentLimit": 80}, {"X-RateLimit-Reset": "432 seconds"}, 432.0),
        ([], {}, 1.0),
    ],
)
def test_getresponse_throttle_waits_for_time_to_reset_first(
    context: Any, headers: dict[str, str], expected: float
) -> None:
    error = getresponse_error(429, gr_body(429, 1015, context), headers)
    assert isinstance(error, errors.RateLimited) and error.retry_after == expected


def test_a_proxy_page_instead_of_a_vendor_body_still_maps_by_status() -> None:
    assert type(getresponse_error(502, None, {})) is errors.Transient
    assert type(getresponse_error(404, None, {})) is errors.NotFound


def test_rate_limited_is_transient_and_the_rest_of_the_tree_is_permanent() -> None:
    assert issubclass(errors.RateLimited, errors.Transient)
    assert issubclass(errors.PreconditionFailed, errors.Conflict)
    for cls in (errors.NotFound, errors.Conflict, errors.Unauthorized, errors.DuplicatesDetected):
        assert issubclass(cls, errors.Permanent)
        assert not issubclass(cls, errors.Transient)
