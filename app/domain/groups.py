"""The sync's group: which Salesforce records feed its GetResponse list (design.md, "Configure a
sync"). An optional SOQL filter, an optional Salesforce Campaign, or both; without either, every
record of the sync's objects.

A Campaign is applied as a SOQL semi-join on CampaignMember, so the first sync's query, the live
path's membership check and validation all ask Salesforce the same question.
"""

from __future__ import annotations

import re

from app.domain.sides import ObjectType

# A Campaign id: key prefix 701, then 12 characters; the 18-character form adds a 3-character
# case-safe suffix. Both name the same record (15-character ids are case-sensitive).
CAMPAIGN_ID = re.compile(r"701[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")

# The membership object, its field naming the Campaign, and the one naming each object type's member.
CAMPAIGN_MEMBER = "CampaignMember"
CAMPAIGN_FIELD = "CampaignId"
MEMBER_FIELD = {ObjectType.LEAD: "LeadId", ObjectType.CONTACT: "ContactId"}


# Words that begin a clause of a SOQL query: outside parentheses a filter holding one would be more
# than a WHERE condition (a subquery inside parentheses, `Id IN (SELECT ...)`, may use them).
_CLAUSE_WORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "ORDER", "GROUP", "HAVING", "LIMIT", "OFFSET", "FOR", "WITH", "USING"}
    | {"UPDATE"}
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def soql_filter_problem(soql_filter: str) -> str | None:
    """Why `soql_filter` is not one WHERE condition, or None.

    The filter is wrapped in parentheses and joined to the other conditions with AND: a filter
    whose own parentheses do not balance (outside its string literals) could close that wrapper
    and widen the group, as `LeadSource = 'Web') OR (Id != null` would, to every record. SOQL
    string literals are in single quotes with backslash escapes.
    """
    depth = 0
    position = 0
    while position < len(soql_filter):
        char = soql_filter[position]
        if char == "'":
            position = _end_of_literal(soql_filter, position)
            if position < 0:
                return "a string literal (in single quotes) is not closed"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return "a ')' closes a parenthesis the filter did not open; parentheses must balance"
        elif char in ";\\":
            return f"{char!r} has no place in a WHERE condition"
        elif char.isalpha() or char == "_":
            word = _WORD.match(soql_filter, position)
            assert word is not None
            if depth == 0 and word.group().upper() in _CLAUSE_WORDS:
                return f"{word.group()!r} begins another clause of a query; give only a WHERE condition"
            position = word.end() - 1
        position += 1
    if depth:
        return f"{depth} '(' not closed; parentheses must balance"
    return None


def _end_of_literal(text: str, start: int) -> int:
    """The index of the quote that closes the literal opened at `start`, or -1."""
    position = start + 1
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        if text[position] == "'":
            return position
        position += 1
    return -1


def group_condition(
    object_type: ObjectType, *, soql_filter: str | None, campaign_id: str | None
) -> str | None:
    """The WHERE condition selecting the group's records of `object_type`; None for all of them."""
    parts = []
    if soql_filter:
        parts.append(f"({soql_filter})")
    if campaign_id:
        if not CAMPAIGN_ID.fullmatch(campaign_id):
            raise ValueError(f"{campaign_id!r} is not a Salesforce Campaign id")
        member = MEMBER_FIELD[object_type]
        # The id was checked above to be letters and digits only.
        parts.append(
            f"Id IN (SELECT {member} FROM {CAMPAIGN_MEMBER} WHERE {CAMPAIGN_FIELD} = '{campaign_id}')"  # noqa: S608
        )
    return " AND ".join(parts) or None


def same_salesforce_id(first: str, second: str) -> bool:
    """Whether two Salesforce ids, each 15 or 18 characters, name the same record."""
    return first[:15] == second[:15]
