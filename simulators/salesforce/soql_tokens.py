"""SOQL text as a stream of tokens, and the located errors Salesforce reports on it.

Errors name the position the way Salesforce does: the query, a caret under the offending token,
then `ERROR at Row:1:Column:N` and the message (api-contracts A3 "SOQL").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulators.salesforce.errors import ApiError, SalesforceError

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


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


class TokenStream:
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

    def unquote(self, token: Token) -> str:
        body = token.text[1:-1]
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)
