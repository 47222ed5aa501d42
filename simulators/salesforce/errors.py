"""Salesforce's error shapes (api-contracts A3 "Error body format", A4 token errors, C4).

Three shapes, easy to confuse, so they live in one place:

- single-record REST: a JSON **array** of `{"message", "errorCode", "fields"?}`;
- inside sObject Collections (SaveResult): `{"statusCode", "message", "fields"}` per error;
- OAuth endpoints: an object `{"error", "error_description"}`.

The DUPLICATES_DETECTED body of a duplicate rule, with its misspelled `duplicateResut`, is here
too (A3 "DUPLICATES_DETECTED gotcha", C5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

NOT_FOUND_MESSAGE = "The requested resource does not exist"


@dataclass(frozen=True)
class ApiError:
    code: str
    message: str
    fields: list[str] | None = None  # None: the vendor sends no "fields" key for this error
    extra: dict[str, Any] = field(default_factory=dict)

    def rest(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = list(self.fields)
        return body | self.extra

    def collection(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields or [])}


class SalesforceError(Exception):
    """A REST failure: the HTTP status and the errors of the JSON array body."""

    def __init__(self, status: int, *errors: ApiError) -> None:
        super().__init__(errors[0].message if errors else str(status))
        self.status = status
        self.errors = list(errors)

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse([e.rest() for e in self.errors], status_code=self.status, headers=headers)


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description}, status_code=self.status
        )


def invalid_session() -> SalesforceError:
    return SalesforceError(401, ApiError("INVALID_SESSION_ID", "Session expired or invalid"))


def request_limit_exceeded() -> SalesforceError:
    return SalesforceError(403, ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))


def not_found(message: str = NOT_FOUND_MESSAGE) -> SalesforceError:
    return SalesforceError(404, ApiError("NOT_FOUND", message))


def entity_is_deleted() -> ApiError:
    return ApiError("ENTITY_IS_DELETED", "entity is deleted", [])


def malformed_id(sobject: str, raw: str) -> ApiError:
    return ApiError("MALFORMED_ID", f"{sobject} ID: id value of incorrect type: {raw}", ["Id"])


def no_such_column(sobject: str, name: str) -> ApiError:
    return ApiError("INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name])


def duplicates_detected(sobject: str, match_ids: list[str]) -> ApiError:
    rule = f"Standard_{sobject}_Duplicate_Rule"
    message = "You're creating a duplicate record. We recommend you use an existing record instead."
    return ApiError(
        "DUPLICATES_DETECTED",
        "Use one of these records?",
        None,
        extra={
            "duplicateResut": {  # sic: Salesforce's own spelling (api-contracts C5)
                "allowSave": True,
                "duplicateRule": rule,
                "duplicateRuleEntityType": sobject,
                "errorMessage": message,
                "matchResults": [
                    {
                        "entityType": sobject,
                        "errors": [],
                        "matchEngine": "ExactMatchEngine",
                        "matchRecords": [
                            {
                                "additionalInformation": [],
                                "fieldDiffs": [],
                                "matchConfidence": 100.0,
                                "record": {
                                    "attributes": {
                                        "type": sobject,
                                        "url": f"/services/data/v62.0/sobjects/{sobject}/{i}",
                                    },
                                    "Id": i,
                                },
                            }
                            for i in match_ids
                        ],
                        "rule": f"Standard_Rule_for_{sobject}s_with_Duplicate_{sobject}s",
                        "size": len(match_ids),
                        "success": True,
                    }
                ],
            }
        },
    )


def json_parser_error(message: str) -> SalesforceError:
    return SalesforceError(400, ApiError("JSON_PARSER_ERROR", message))


def method_not_allowed(method: str, allowed: list[str]) -> SalesforceError:
    message = f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(allowed))}"
    return SalesforceError(405, ApiError("METHOD_NOT_ALLOWED", message))


_INJECTED = {
    400: ("INVALID_INPUT", "Injected failure"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", NOT_FOUND_MESSAGE),
    409: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
}


def injected(status: int) -> SalesforceError:
    """An error from `/_sim/faults`, dressed as Salesforce would send it (500 UNKNOWN_EXCEPTION,
    503 SERVER_UNAVAILABLE, ...)."""
    code, message = _INJECTED.get(
        status,
        (
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1234567890-12345 (-1234567890)",
        ),
    )
    return SalesforceError(status, ApiError(code, message))


def injected_oauth(status: int) -> OAuthError:
    if status == 503:
        return OAuthError("temporarily_unavailable", "service temporarily unavailable", status)
    return OAuthError("server_error", "internal server error", status)
