"""How the operator's commands print: tables and fields for people (rich), JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def as_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    if not rows:
        out.print(f"no {title or 'rows'}", highlight=False)
        return
    grid = Table(*columns, title=title, title_justify="left", highlight=False)
    for row in rows:
        grid.add_row(*(cell(_dig(row, column)) for column in columns))
    out.print(grid)


def fields(record: dict[str, Any], columns: Sequence[str] | None = None) -> None:
    grid = Table.grid(padding=(0, 2))
    for name in columns or list(record):
        grid.add_row(f"[bold]{name}[/bold]", cell(_dig(record, name)))
    out.print(grid, highlight=False)


def _dig(row: dict[str, Any], dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
