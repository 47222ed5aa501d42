"""Log lines: tracebacks in JSON format, and ids rather than personal data."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from app.logs import configure_logging, get_logger

ROOT = Path(__file__).resolve().parents[2]
PERSONAL = ("email", "first_name", "last_name", "phone")


def test_an_exception_logged_in_json_carries_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            get_logger("tests.logs").exception("it broke", link_id=7)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        configure_logging("INFO", "console")
    assert line["event"] == "it broke" and line["link_id"] == 7
    assert "exc_info" not in line
    assert "Traceback (most recent call last)" in line["exception"]
    assert "ZeroDivisionError: division by zero" in line["exception"]


def _log_calls_with_personal_data(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        if not (isinstance(receiver, ast.Name) and receiver.id in ("log", "logger")):
            continue
        for keyword in node.keywords:
            if keyword.arg and any(word in keyword.arg for word in PERSONAL):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {keyword.arg}=")
    return found


def test_no_log_line_carries_an_email_or_a_name() -> None:
    files = sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "consumers").rglob("*.py"))
    assert [hit for path in files for hit in _log_calls_with_personal_data(path)] == []
