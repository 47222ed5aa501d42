"""How the operator's commands print: tables and fields for people (rich), JSON for scripts."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def as_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]00:00)?")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and (stamp := _TIMESTAMP.fullmatch(value)):
        return f"{stamp[1]} {stamp[2]}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    if not rows:
        out.print(f"no {title or 'rows'}", highlight=False)
        return
    grid = Table(title=title, title_justify="left", highlight=False, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        # Ids are copied from here into the next command: whole, on one line; other long values fold.
        whole = column in ("id", "job_id", "sync_id") or column.endswith("_at")
        header = column.rsplit(".", 1)[-1]
        grid.add_column(header, overflow="fold", no_wrap=whole, min_width=max(len(header), 6))
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
