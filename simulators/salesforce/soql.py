"""The SOQL subset the sync needs, parsed and evaluated strictly (api-contracts A3 "SOQL").

    SELECT f1, f2 | COUNT() FROM Lead|Contact
      [WHERE cond {AND|OR} cond ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n] [OFFSET n]

    cond := [NOT] field (= | != | <> | < | <= | > | >=) literal
          | field [NOT] IN (literal, ...) | field LIKE 'pattern' | ( cond ... )

Salesforce's rules that trip clients, all enforced:

- keywords and field names are case-insensitive; results use canonical field names;
- string comparisons (=, !=, IN, LIKE, ordering) are case-insensitive;
- string and id literals are single-quoted (backslash escapes); date-times are **unquoted**
  (`2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.000+0000`); a quoted date-time, or any literal of
  the wrong type for its field, is 400 INVALID_FIELD; `+` in a literal must be URL-encoded;
- AND and OR cannot be mixed without parentheses (MALFORMED_QUERY);
- `!=` matches records whose value is null; ordering puts nulls first ascending, last descending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import ge, gt, le, lt
from typing import Any

from simulators.salesforce import ids, schema, timefmt
from simulators.salesforce.errors import ApiError, SalesforceError
from simulators.salesforce.schema import FieldDef, SObjectDef

Values = dict[str, Any]
Predicate = Callable[[Values], bool]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<op>!=|<>|<=|>=|=|<|>)
      | (?P<punct>[(),])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_TEXT = {"string", "email", "phone", "picklist", "textarea"}
_KEYWORDS = frozenset(
    "SELECT FROM WHERE AND OR NOT IN LIKE ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET".split()
    + "TRUE FALSE NULL COUNT".split()
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


@dataclass
class Query:
    sobject: SObjectDef
    fields: list[str]
    count_only: bool
    where: Predicate = field(default=lambda values: True)
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # field, descending, nulls first
    limit: int | None = None
    offset: int = 0

    def run(self, rows: list[Values]) -> list[Values]:
        matched = [row for row in rows if self.where(row)]
        for name, descending, nulls_first in reversed(self.order):
            present = [r for r in matched if r.get(name) is not None]
            absent = [r for r in matched if r.get(name) is None]
            present.sort(key=_sort_key(name), reverse=descending)
            matched = absent + present if nulls_first else present + absent
        matched = matched[self.offset :]
        return matched if self.limit is None else matched[: self.limit]


def parse(text: str) -> Query:
    return _Parser(text).query()


def _sort_key(name: str) -> Callable[[Values], Any]:
    def key(row: Values) -> Any:
        value = row[name]
        return value.lower() if isinstance(value, str) else value

    return key


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.at = 0

    def _tokenize(self, text: str) -> list[Token]:
        tokens, pos = [], 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                raise self.error_at(pos, f"unexpected token: '{text[pos]}'")
            if match.lastgroup != "ws":
                tokens.append(Token(str(match.lastgroup), match.group(), pos))
            pos = match.end()
        return tokens

    def error_at(self, pos: int, message: str, code: str = "MALFORMED_QUERY") -> SalesforceError:
        located = f"\n{self.text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"
        return SalesforceError(400, ApiError(code, located))

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def next(self, what: str = "") -> Token:
        token = self.peek()
        if token is None:
            raise self.error_at(len(self.text), f"unexpected token: <EOF>{what}")
        self.at += 1
        return token

    def unexpected(self, token: Token) -> SalesforceError:
        return self.error_at(token.pos, f"unexpected token: '{token.text}'")

    def accept(self, *words: str) -> Token | None:
        token = self.peek()
        if token is not None and token.keyword(*words):
            self.at += 1
            return token
        return None

    def expect_keyword(self, word: str) -> Token:
        token = self.next()
        if not token.keyword(word):
            raise self.unexpected(token)
        return token

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise self.unexpected(token)

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        count_only, names = self.select_list()
        self.expect_keyword("FROM")
        entity = self.next()
        sobject = schema.sobject(entity.text) if entity.kind == "ident" else None
        if sobject is None:
            raise self.error_at(
                entity.pos,
                f"sObject type '{entity.text}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
                "or the describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        query = Query(sobject, [], count_only)
        for name, token in names:
            canonical = self.field(sobject, name, token).name
            if canonical in query.fields:
                raise self.error_at(token.pos, f"duplicate field selected: {canonical}")
            query.fields.append(canonical)
        if self.accept("WHERE"):
            query.where = self.expression(sobject)
        if self.accept("ORDER"):
            self.expect_keyword("BY")
            query.order = self.order_list(sobject)
        if self.accept("LIMIT"):
            query.limit = self.integer()
        if offset := self.accept("OFFSET"):
            query.offset = self.integer()
            if query.offset > 2000:
                raise self.error_at(
                    offset.pos, "Maximum SOQL offset allowed is 2000", "NUMBER_OUTSIDE_VALID_RANGE"
                )
        leftover = self.peek()
        if leftover is not None:
            raise self.unexpected(leftover)
        return query

    def select_list(self) -> tuple[bool, list[tuple[str, Token]]]:
        token = self.peek()
        if (
            token
            and token.keyword("COUNT")
            and self.at + 1 < len(self.tokens)
            and self.tokens[self.at + 1].text == "("
        ):
            self.at += 1
            self.expect("(")
            self.expect(")")
            return True, []
        names = []
        while True:
            token = self.next()
            if token.kind != "ident" or token.text.upper() in _KEYWORDS:
                raise self.unexpected(token)
            names.append((token.text, token))
            following = self.peek()
            if following is None or following.text != ",":
                return False, names
            self.at += 1

    def field(self, sobject: SObjectDef, name: str, token: Token) -> FieldDef:
        if "." in name:
            raise self.error_at(
                token.pos,
                f"Didn't understand relationship '{name.split('.')[0]}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship "
                "name. Please reference your WSDL or the describe call for the appropriate names.",
                "INVALID_FIELD",
            )
        definition = sobject.field(name)
        if definition is None:
            raise self.error_at(
                token.pos,
                f"No such column '{name}' on entity '{sobject.name}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your WSDL "
                "or the describe call for the appropriate names.",
                "INVALID_FIELD",
            )
        return definition

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def order_list(self, sobject: SObjectDef) -> list[tuple[str, bool, bool]]:
        order = []
        while True:
            token = self.next()
            if token.kind != "ident":
                raise self.unexpected(token)
            definition = self.field(sobject, token.text, token)
            descending = False
            following = self.peek()
            if following and following.keyword("ASC", "DESC"):
                descending = following.text.upper() == "DESC"
                self.at += 1
            nulls_first = not descending
            following = self.peek()
            if following and following.keyword("NULLS"):
                self.at += 1
                nulls_first = self.next().keyword("FIRST")
                if not self.tokens[self.at - 1].keyword("FIRST", "LAST"):
                    raise self.unexpected(self.tokens[self.at - 1])
            order.append((definition.name, descending, nulls_first))
            following = self.peek()
            if following is None or following.text != ",":
                return order
            self.at += 1

    def expression(self, sobject: SObjectDef) -> Predicate:
        terms = [self.term(sobject)]
        joiner: str | None = None
        while (token := self.peek()) is not None and token.keyword("AND", "OR"):
            word = token.text.upper()
            if joiner is not None and word != joiner:
                raise self.unexpected(token)
            joiner = word
            self.at += 1
            terms.append(self.term(sobject))
        if len(terms) == 1:
            return terms[0]
        if joiner == "AND":
            return lambda values: all(t(values) for t in terms)
        return lambda values: any(t(values) for t in terms)

    def term(self, sobject: SObjectDef) -> Predicate:
        token = self.next()
        if token.keyword("NOT"):
            inner = self.term(sobject)
            return lambda values: not inner(values)
        if token.text == "(":
            inner = self.expression(sobject)
            self.expect(")")
            return inner
        if token.kind != "ident" or token.text.upper() in _KEYWORDS:
            raise self.unexpected(token)
        definition = self.field(sobject, token.text, token)
        if definition.type == "address":
            raise self.error_at(
                token.pos, f"field '{definition.name}' can not be filtered in query call", "INVALID_FIELD"
            )
        operator = self.next()
        if operator.keyword("NOT"):
            self.expect_keyword("IN")
            members = self.literal_list(definition)
            return lambda values: _normalize(definition, values.get(definition.name)) not in members
        if operator.keyword("IN"):
            members = self.literal_list(definition)
            return lambda values: _normalize(definition, values.get(definition.name)) in members
        if operator.keyword("LIKE"):
            pattern = self.next()
            if pattern.kind != "string" or definition.type not in _TEXT:
                raise self.error_at(
                    pattern.pos, f"invalid operator on field: {definition.name}", "INVALID_FIELD"
                )
            regex = _like(self.unquote(pattern))
            return lambda values: bool(regex.fullmatch(str(values.get(definition.name) or "")))
        if operator.kind != "op":
            raise self.unexpected(operator)
        literal = self.literal(definition, self.next())
        return _comparison(definition, operator.text, literal)

    def literal_list(self, definition: FieldDef) -> set[Any]:
        self.expect("(")
        members = {self.literal(definition, self.next())}
        while (token := self.next()).text == ",":
            members.add(self.literal(definition, self.next()))
        if token.text != ")":
            raise self.unexpected(token)
        return members

    def unquote(self, token: Token) -> str:
        body = token.text[1:-1]
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)

    def literal(self, definition: FieldDef, token: Token) -> Any:
        if token.keyword("NULL"):
            return None
        kind = definition.type
        if kind == "boolean" and token.keyword("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if kind in _TEXT and token.kind == "string":
            return self.unquote(token).lower()
        if kind in {"id", "reference"} and token.kind == "string":
            normalized = ids.normalize(self.unquote(token))
            if normalized is None:
                raise self.error_at(
                    token.pos, f"invalid ID field: {self.unquote(token)}", "INVALID_QUERY_FILTER_OPERATOR"
                )
            return normalized
        if kind == "datetime" and token.kind == "datetime":
            return timefmt.parse_soql_datetime(token.text)
        if kind == "date" and token.kind == "date":
            return timefmt.parse_soql_date(token.text)
        if token.kind not in {"string", "datetime", "date", "number"} and not token.keyword("TRUE", "FALSE"):
            raise self.unexpected(token)
        quoted = " and should not be enclosed in quotes" if kind in {"datetime", "date", "boolean"} else ""
        soap = {"datetime": "dateTime", "id": "id", "reference": "reference"}.get(kind, kind)
        if kind in _TEXT:
            soap, quoted = "string", " and should be enclosed in quotes"
        raise self.error_at(
            token.pos,
            f"value of filter criterion for field '{definition.name}' must be of type {soap}{quoted}",
            "INVALID_FIELD",
        )


def _normalize(definition: FieldDef, value: Any) -> Any:
    return value.lower() if isinstance(value, str) and definition.type in _TEXT else value


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _comparison(definition: FieldDef, operator: str, literal: Any) -> Predicate:
    name = definition.name
    if literal is None or definition.type == "boolean":
        if operator not in {"=", "!=", "<>"}:
            raise SalesforceError(
                400, ApiError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on field: {name}")
            )
    if operator == "=":
        return lambda values: _normalize(definition, values.get(name)) == literal
    if operator in {"!=", "<>"}:
        return lambda values: _normalize(definition, values.get(name)) != literal
    check: Callable[[Any, Any], bool] = {"<": lt, "<=": le, ">": gt, ">=": ge}[operator]

    def ordered(values: Values) -> bool:
        value = _normalize(definition, values.get(name))
        return (
            value is not None
            and isinstance(value, (str, datetime, date, int, float))
            and check(value, literal)
        )

    return ordered
