"""The control API documents itself: every operation names its bearer scheme and both refusals,
and every schema it takes or gives has an example."""

from __future__ import annotations

from typing import Any

from app.main import create_app

CONTROL_PREFIXES = ("/v1/connections", "/v1/syncs", "/v1/dead-letters", "/v1/contacts")
# The browser's way back from Salesforce, authenticated by its one-time state.
NO_BEARER = ("/v1/connections/salesforce/callback",)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        if path.startswith(CONTROL_PREFIXES)
        for method, operation in operations.items()
    ]


def test_every_control_operation_uses_the_bearer_scheme_and_documents_401_and_403() -> None:
    schema = create_app().openapi()
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    for method, path, operation in _operations(schema):
        if path in NO_BEARER:
            continue
        assert operation.get("security") == [{"ApiToken": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_body_the_control_api_takes_or_gives_has_an_example() -> None:
    schema = create_app().openapi()
    used: set[str] = set()
    for _, _, operation in _operations(schema):
        used |= _refs(operation.get("requestBody", {})) | _refs(operation.get("responses", {}))
    components = schema["components"]["schemas"]
    top_level = {name for name in used if name not in {"HTTPValidationError", "ValidationError"}}
    assert sorted(name for name in top_level if not components[name].get("examples")) == []
