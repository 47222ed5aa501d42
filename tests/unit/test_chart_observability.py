"""The chart's Grafana dashboard and Prometheus alerts speak of metrics that exist: every `sfgr_*`
name in a panel's query or a rule's expression is one the processes export (app/metrics.py), with
the suffixes Prometheus gives counters and histograms. Checked on the files the chart embeds, with
each %threshold% replaced by its value from values.yaml, the way the template does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import app.metrics  # noqa: F401 - registers every metric of ours

CHART = Path(__file__).resolve().parents[2] / "helm" / "sfgr-sync"
METRIC = re.compile(r"\bsfgr_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("sfgr_"):
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def rules() -> list[dict[str, Any]]:
    thresholds = yaml.safe_load((CHART / "values.yaml").read_text())["prometheusRule"]["thresholds"]
    text = (CHART / "rules" / "sfgr-sync.rules.yaml").read_text()
    for name, value in thresholds.items():
        text = text.replace(f"%{name}%", str(value))
    assert "%" not in "".join(line.split("#")[0] for line in text.splitlines()), "a threshold without a value"
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    board = json.loads((CHART / "dashboards" / "sfgr-sync.json").read_text())
    return [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]


def test_every_alert_expression_names_metrics_the_processes_export() -> None:
    known = exported()
    found = {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert found, "no metric in the rules"
    assert found <= known, f"unknown metrics in the rules: {sorted(found - known)}"


def test_every_dashboard_query_names_metrics_the_processes_export() -> None:
    known = exported()
    found = {name for query in dashboard_queries() for name in METRIC.findall(query)}
    assert found <= known, f"unknown metrics in the dashboard: {sorted(found - known)}"


def test_the_alerts_the_chart_promises_are_there() -> None:
    assert {rule["alert"] for rule in rules()} == {
        "SfgrDeadLettersGrowing",
        "SfgrPropagationSlow",
        "SfgrConsumerLagGrowing",
        "SfgrSubscriberSilent",
        "SfgrSubscriberReplayExpired",
        "SfgrPollerWatermarkStale",
        "SfgrVendorAuthenticationFailing",
        "SfgrSalesforceAllowanceNearlySpent",
    }
    for rule in rules():
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_dashboard_shows_what_the_chart_promises() -> None:
    queries = " ".join(dashboard_queries())
    for metric in (
        "sfgr_propagation_seconds_bucket", "sfgr_events_total", "sfgr_dead_letters", "sfgr_consumer_lag",
        "sfgr_vendor_calls_total", "sfgr_vendor_rate_limited_total", "sfgr_salesforce_api_usage_ratio",
    ):
        assert metric in queries, metric
