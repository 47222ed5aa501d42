"""A parsed SOQL query and how it runs over rows: filters, semi-join subqueries, order, paging.

`soql.parse` builds it; `/query` runs it over the records of its object (and, for semi-joins, of
the subqueries' objects). String comparisons ignore case; `!=` matches nulls; ordering puts nulls
first ascending and last descending (api-contracts A3 "SOQL").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import ge, gt, le, lt
from typing import Any

from simulators.salesforce.errors import ApiError, SalesforceError
from simulators.salesforce.schema import FieldDef, SObjectDef

Values = dict[str, Any]
Predicate = Callable[[Values], bool]
TEXT_TYPES = {"string", "email", "phone", "picklist", "textarea"}


@dataclass
class SemiJoin:
    """The subquery of `field [NOT] IN (SELECT field FROM sobject WHERE ...)`; `Query.run` fills
    `matched` with the values it selects before the outer WHERE is evaluated."""

    sobject: SObjectDef
    field: str
    where: Predicate
    matched: frozenset[Any] = frozenset()

    def resolve(self, rows: list[Values]) -> None:
        self.matched = frozenset(
            row[self.field] for row in rows if row.get(self.field) is not None and self.where(row)
        )


@dataclass
class Query:
    sobject: SObjectDef
    fields: list[str]
    count_only: bool
    where: Predicate = field(default=lambda values: True)
    # field, descending, nulls first, compared case-insensitively (text fields)
    order: list[tuple[str, bool, bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    semi_joins: list[SemiJoin] = field(default_factory=list)

    def run(
        self, rows: list[Values], related: Callable[[SObjectDef], list[Values]] = lambda _: []
    ) -> list[Values]:
        """The matching rows, in order; `related` gives a semi-join subquery the (non-deleted)
        rows of its object."""
        for join in self.semi_joins:
            join.resolve(related(join.sobject))
        matched = [row for row in rows if self.where(row)]
        for name, descending, nulls_first, fold in reversed(self.order):
            present = [r for r in matched if r.get(name) is not None]
            absent = [r for r in matched if r.get(name) is None]
            present.sort(key=_sort_key(name, fold), reverse=descending)
            matched = absent + present if nulls_first else present + absent
        matched = matched[self.offset :]
        return matched if self.limit is None else matched[: self.limit]


def _sort_key(name: str, fold: bool) -> Callable[[Values], Any]:
    def key(row: Values) -> Any:
        value = row[name]
        return value.lower() if fold and isinstance(value, str) else value

    return key


def normalize(definition: FieldDef, value: Any) -> Any:
    return value.lower() if isinstance(value, str) and definition.type in TEXT_TYPES else value


def like(pattern: str) -> re.Pattern[str]:
    """`%` and `_` are wildcards unless escaped with a backslash, which SOQL allows for them."""
    parts = []
    for piece in re.findall(r"\\[%_]|.", pattern, re.DOTALL):
        if piece in ("%", "_"):
            parts.append(".*" if piece == "%" else ".")
        else:
            parts.append(re.escape(piece[-1]))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def comparison(definition: FieldDef, operator: str, literal: Any) -> Predicate:
    name = definition.name
    if literal is None or definition.type == "boolean":
        if operator not in {"=", "!=", "<>"}:
            raise SalesforceError(
                400, ApiError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on field: {name}")
            )
    if operator == "=":
        return lambda values: normalize(definition, values.get(name)) == literal
    if operator in {"!=", "<>"}:
        return lambda values: normalize(definition, values.get(name)) != literal
    check: Callable[[Any, Any], bool] = {"<": lt, "<=": le, ">": gt, ">=": ge}[operator]

    def ordered(values: Values) -> bool:
        value = normalize(definition, values.get(name))
        return (
            value is not None
            and isinstance(value, (str, datetime, date, int, float))
            and check(value, literal)
        )

    return ordered
