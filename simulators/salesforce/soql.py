"""The SOQL subset the sync needs, parsed strictly into a `Query` (api-contracts A3 "SOQL"); how a
query runs over rows is in soql_plan.py, the tokens and located errors in soql_tokens.py.

    SELECT f1, f2 | COUNT() FROM Lead|Contact|Campaign|CampaignMember
      [WHERE cond {AND|OR} cond ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n] [OFFSET n]

    cond := [NOT] field (= | != | <> | < | <= | > | >=) literal
          | field [NOT] IN (literal, ...) | field LIKE 'pattern' | ( cond ... )
          | field [NOT] IN (SELECT field FROM object [WHERE cond ...])     semi-join / anti-join

Salesforce's rules that trip clients, all enforced:

- keywords and field names are case-insensitive; results use canonical field names;
- comparisons (=, !=, IN, LIKE, ordering) of text fields are case-insensitive; ids compare and
  sort case-sensitively (a 15-character id is case-sensitive: `...aZ` and `...aa` are two records);
- string and id literals are single-quoted (backslash escapes); date-times are **unquoted**
  (`2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.000+0000`); a quoted date-time, or any literal of
  the wrong type for its field, is 400 INVALID_FIELD; `+` in a literal must be URL-encoded;
- AND and OR cannot be mixed without parentheses (MALFORMED_QUERY);
- `!=` matches records whose value is null; ordering puts nulls first ascending, last descending.

Semi-joins (`IN`) and anti-joins (`NOT IN`) with a subquery, and the SOQL rules on them (SOQL and
SOSL Reference, "Comparison Operators", semi-join and anti-join restrictions), all MALFORMED_QUERY:

- the subquery selects one field, an Id or a reference (a lookup), else "semi join sub selects can
  only query id fields, cannot use: '<field>'"; the left operand is an Id or reference field too,
  and both point at the same object type; the subquery is on another object than the query;
- at most two per WHERE; none inside a subquery ("Nesting of semi join sub-selects is not
  supported"); never under OR ("... not allowed with the 'OR' operator" at the top level, "...
  only allowed at the top level WHERE expressions ..." inside parentheses) nor under NOT;
- no ORDER BY, LIMIT or OFFSET in the subquery (refused as an unexpected token; UNCONFIRMED).

The subquery sees non-deleted records only, also under queryAll (UNCONFIRMED), and null values
never match, so `LeadId NOT IN (SELECT ...)` keeps the records whose LeadId is null.
"""

from __future__ import annotations

from typing import Any

from simulators.salesforce import ids, schema, timefmt
from simulators.salesforce.errors import SalesforceError
from simulators.salesforce.schema import FieldDef, SObjectDef
from simulators.salesforce.soql_plan import (
    TEXT_TYPES,
    Predicate,
    Query,
    SemiJoin,
    comparison,
    like,
    normalize,
)
from simulators.salesforce.soql_tokens import Token, TokenStream

_KEYWORDS = frozenset(
    "SELECT FROM WHERE AND OR NOT IN LIKE ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET".split()
    + "TRUE FALSE NULL COUNT".split()
)
_ID_TYPES = {"id", "reference"}
MAX_SEMI_JOINS = 2


def parse(text: str) -> Query:
    return _Parser(text).query()


class _Parser(TokenStream):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0  # parentheses around the expression being parsed
        self.semi_joins: list[SemiJoin] = []
        self.join_sites: list[tuple[Token, int]] = []  # each semi-join's field token and depth
        self.in_subquery = False

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        count_only, names = self.select_list()
        self.expect_keyword("FROM")
        sobject = self.sobject(self.next())
        query = Query(sobject, [], count_only, semi_joins=self.semi_joins)
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

    def sobject(self, entity: Token) -> SObjectDef:
        sobject = schema.sobject(entity.text) if entity.kind == "ident" else None
        if sobject is None:
            raise self.error_at(
                entity.pos,
                f"sObject type '{entity.text}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
                "or the describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        return sobject

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

    def order_list(self, sobject: SObjectDef) -> list[tuple[str, bool, bool, bool]]:
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
            order.append((definition.name, descending, nulls_first, definition.type in TEXT_TYPES))
            following = self.peek()
            if following is None or following.text != ",":
                return order
            self.at += 1

    def expression(self, sobject: SObjectDef) -> Predicate:
        joins_before = len(self.join_sites)
        terms = [self.term(sobject)]
        joiner: str | None = None
        while (token := self.peek()) is not None and token.keyword("AND", "OR"):
            word = token.text.upper()
            if joiner is not None and word != joiner:
                raise self.unexpected(token)
            joiner = word
            self.at += 1
            terms.append(self.term(sobject))
        if joiner == "OR" and len(self.join_sites) > joins_before:
            raise self.semi_join_under_or(self.join_sites[joins_before:])
        if len(terms) == 1:
            return terms[0]
        if joiner == "AND":
            return lambda values: all(t(values) for t in terms)
        return lambda values: any(t(values) for t in terms)

    def term(self, sobject: SObjectDef) -> Predicate:
        token = self.next()
        if token.keyword("NOT"):
            joins_before = len(self.join_sites)
            inner = self.term(sobject)
            if len(self.join_sites) > joins_before:
                raise self.error_at(
                    self.join_sites[joins_before][0].pos,
                    "Semi join sub-selects are not allowed with the 'NOT' operator",
                )
            return lambda values: not inner(values)
        if token.text == "(":
            self.depth += 1
            inner = self.expression(sobject)
            self.depth -= 1
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
            if self.subquery_follows():
                return self.semi_join(sobject, definition, token, anti=True)
            members = self.literal_list(definition)
            return lambda values: normalize(definition, values.get(definition.name)) not in members
        if operator.keyword("IN"):
            if self.subquery_follows():
                return self.semi_join(sobject, definition, token, anti=False)
            members = self.literal_list(definition)
            return lambda values: normalize(definition, values.get(definition.name)) in members
        if operator.keyword("LIKE"):
            pattern = self.next()
            if pattern.kind != "string" or definition.type not in TEXT_TYPES:
                raise self.error_at(
                    pattern.pos, f"invalid operator on field: {definition.name}", "INVALID_FIELD"
                )
            regex = like(self.unquote(pattern))
            return lambda values: bool(regex.fullmatch(str(values.get(definition.name) or "")))
        if operator.kind != "op":
            raise self.unexpected(operator)
        literal = self.literal(definition, self.next())
        return comparison(definition, operator.text, literal)

    def subquery_follows(self) -> bool:
        ahead = self.tokens[self.at : self.at + 2]
        return len(ahead) == 2 and ahead[0].text == "(" and ahead[1].keyword("SELECT")

    def semi_join(self, outer: SObjectDef, left: FieldDef, left_token: Token, *, anti: bool) -> Predicate:
        """`left [NOT] IN (SELECT field FROM object [WHERE ...])`, with Salesforce's restrictions."""
        self.expect("(")
        select = self.expect_keyword("SELECT")
        if self.in_subquery:
            raise self.error_at(select.pos, "Nesting of semi join sub-selects is not supported")
        if left.type not in _ID_TYPES:
            raise self.error_at(
                left_token.pos,
                f"semi join sub selects are only supported on id or reference fields, cannot use: "
                f"'{left.name}'",
            )
        if len(self.semi_joins) == MAX_SEMI_JOINS:
            raise self.error_at(
                left_token.pos, f"Maximum of {MAX_SEMI_JOINS} semi join sub-selects are allowed"
            )
        selected = self.next()
        if selected.kind != "ident" or selected.text.upper() in _KEYWORDS:
            raise self.unexpected(selected)
        self.expect_keyword("FROM")
        entity = self.next()
        inner = self.sobject(entity)
        right = self.field(inner, selected.text, selected)
        if right.type not in _ID_TYPES:
            raise self.error_at(
                selected.pos, f"semi join sub selects can only query id fields, cannot use: '{right.name}'"
            )
        if inner.name == outer.name:
            raise self.error_at(
                entity.pos, "The inner and outer selects should not be on the same object type"
            )
        if _points_at(inner, right) != _points_at(outer, left):
            raise self.error_at(
                selected.pos,
                f"The selected field '{right.name}' in the subquery and the left operand field "
                f"'{left.name}' in the where expression in the outer query must point to the same "
                "object type",
            )
        join = SemiJoin(inner, right.name, lambda values: True)
        if self.accept("WHERE"):
            self.in_subquery, depth, self.depth = True, self.depth, 0
            join.where = self.expression(inner)
            self.in_subquery, self.depth = False, depth
        self.expect(")")
        self.semi_joins.append(join)
        self.join_sites.append((left_token, self.depth))
        name = left.name
        if anti:
            return lambda values: values.get(name) not in join.matched
        return lambda values: values.get(name) in join.matched

    def semi_join_under_or(self, sites: list[tuple[Token, int]]) -> SalesforceError:
        top_level = [token for token, depth in sites if depth == 0 == self.depth]
        if top_level:
            return self.error_at(
                top_level[0].pos, "Semi join sub-selects are not allowed with the 'OR' operator"
            )
        return self.error_at(
            sites[0][0].pos,
            "Semi join sub-selects are only allowed at the top level WHERE expressions and not in "
            "nested WHERE expressions.",
        )

    def literal_list(self, definition: FieldDef) -> set[Any]:
        self.expect("(")
        members = {self.literal(definition, self.next())}
        while (token := self.next()).text == ",":
            members.add(self.literal(definition, self.next()))
        if token.text != ")":
            raise self.unexpected(token)
        return members

    def literal(self, definition: FieldDef, token: Token) -> Any:
        if token.keyword("NULL"):
            return None
        kind = definition.type
        if kind == "boolean" and token.keyword("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if kind in TEXT_TYPES and token.kind == "string":
            return self.unquote(token).lower()
        if kind in _ID_TYPES and token.kind == "string":
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
        if kind in TEXT_TYPES:
            soap, quoted = "string", " and should be enclosed in quotes"
        raise self.error_at(
            token.pos,
            f"value of filter criterion for field '{definition.name}' must be of type {soap}{quoted}",
            "INVALID_FIELD",
        )


def _points_at(sobject: SObjectDef, definition: FieldDef) -> str:
    """The object an Id or reference field names records of."""
    return sobject.name if definition.type == "id" else definition.reference_to[0]
