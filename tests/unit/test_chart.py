"""The image and the chart are secure by default: production in the image, a NetworkPolicy on,
no ingress access log of secret-bearing URLs, no plaintext Kafka in production unless allowed.

No Helm binary is available to the tests, so the templates are checked as text and the values
(the defaults and each ci/ file) against values.schema.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sfgr-sync"


def values(*overrides: Path) -> dict[str, Any]:
    merged: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in overrides:
        _merge(merged, yaml.safe_load(path.read_text()))
    return merged


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def test_the_image_runs_in_production_unless_told_otherwise() -> None:
    env_lines = re.findall(r"^ENV (?:.*\\\n)*.*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert any("SFGR_ENVIRONMENT=production" in block for block in env_lines)


@pytest.mark.parametrize("ci", sorted((CHART / "ci").glob("*.yaml")), ids=lambda p: p.name)
def test_each_ci_values_file_meets_the_schema(ci: Path) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.validate(values(ci), schema)


def test_a_network_policy_is_on_by_default_and_admits_only_the_ingress_controller_and_prometheus() -> None:
    defaults = values()
    assert defaults["networkPolicy"]["enabled"] is True
    assert defaults["networkPolicy"]["ingress"]["namespaces"] == ["ingress-nginx", "monitoring"]
    template = (CHART / "templates" / "networkpolicy.yaml").read_text()
    assert "kind: NetworkPolicy" in template and "- Egress" in template and "port: 443" in template
    assert "port: 53" in template
    assert 'fail "networkPolicy.enabled is true: name the Kafka brokers' in template


def test_the_ingress_turns_ingress_nginx_access_logging_off_by_default() -> None:
    annotations = values()["ingress"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/enable-access-log"] == "false"


def test_plaintext_kafka_is_refused_in_production_unless_allowed() -> None:
    defaults = values()
    assert defaults["config"]["SFGR_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert defaults["kafka"]["allowPlaintext"] is False
    template = (CHART / "templates" / "configmap.yaml").read_text()
    assert '(list "PLAINTEXT" "SASL_PLAINTEXT")' in template and "not .Values.kafka.allowPlaintext" in template
    assert "{{- fail" in template
