"""A subset of SOQL for the Salesforce emulator: ``SELECT fields | COUNT() FROM object [WHERE …] [ORDER BY field
[ASC|DESC]] [LIMIT n]`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``IN``, ``NOT IN``, ``LIKE``, ``AND``,
``OR``, ``NOT``, parentheses, string / number / boolean / ``null`` / date-time literals, relationship fields
such as ``Account.Name`` and parent-to-child sub-queries among the fields, ``(SELECT fields FROM Relationships
[WHERE …])`` (https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-relationships-query-using.md).

Syntax: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
(comparison of text with ``=`` ignores case; ``LIKE`` takes ``%`` and ``_``; escapes as in
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:\\.|[^'\\])*')
  | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*(?:\(\))?)
  | (?P<num>-?\d[0-9T:\-.+Z]*)
)""", re.VERBOSE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class SoqlError(ValueError):
    """A statement the emulator cannot parse: Salesforce's ``MALFORMED_QUERY``."""


@dataclass
class Subquery:
    """``(SELECT fields FROM relationship [WHERE …])``: the children of each record through ``relationship`` (a
    child relationship's name, e.g. ``AccountContactRelations`` of a Contact)."""

    relationship: str
    fields: list[str]
    where: Callable[[Callable[[str], Any]], bool] | None = None
    filter_fields: list[str] = field(default_factory=list)


@dataclass
class Query:
    fields: list[str]
    object: str
    children: list[Subquery] = field(default_factory=list)
    where: Callable[[Callable[[str], Any]], bool] | None = None
    order_by: str = ""
    descending: bool = False
    limit: int | None = None
    count: bool = False
    filter_fields: list[str] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SoqlError(f"unexpected token at: {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, raw: str) -> Any:
    if kind == "str":
        body = raw[1:-1]
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)
    if kind == "num":
        if re.fullmatch(r"-?\d+", raw):
            return int(raw)
        try:
            return float(raw)
        except ValueError:
            return raw  # a date or date-time literal
    low = raw.lower()
    if low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    raise SoqlError(f"unexpected value {raw!r}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("=", "!=", "<>"):
        if right is None:
            equal = left is None or left == ""
        elif isinstance(right, bool) or isinstance(left, bool) or (
                isinstance(right, int | float) and isinstance(left, int | float)):
            equal = left == right
        else:
            equal = _text(left).casefold() == _text(right).casefold()
        return equal if op == "=" else not equal
    if left is None or right is None:
        return False
    a: Any = left
    b: Any = right
    if not (isinstance(left, int | float) and isinstance(right, int | float)):
        a, b = _text(left)[:len(_text(right))], _text(right)  # dates and date-times compare as text
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _like(value: Any, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, _text(value), re.IGNORECASE | re.DOTALL) is not None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks = tokens
        self.i = 0
        self.fields: list[str] = []

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("", "")

    def word(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() in words:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        _kind, got = self.peek()
        if got.upper() != value.upper():
            raise SoqlError(f"expected {value}, found {got or 'the end'}")
        self.i += 1

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if not tok[0]:
            raise SoqlError("unexpected end of the statement")
        self.i += 1
        return tok

    def or_expr(self) -> Callable[[Callable[[str], Any]], bool]:
        parts = [self.and_expr()]
        while self.word("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda get: any(p(get) for p in parts))

    def and_expr(self) -> Callable[[Callable[[str], Any]], bool]:
        parts = [self.unary()]
        while self.word("AND"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda get: all(p(get) for p in parts))

    def unary(self) -> Callable[[Callable[[str], Any]], bool]:
        if self.word("NOT"):
            inner = self.unary()
            return lambda get: not inner(get)
        if self.peek()[1] == "(":
            self.i += 1
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.condition()

    def condition(self) -> Callable[[Callable[[str], Any]], bool]:
        kind, name = self.take()
        if kind != "word":
            raise SoqlError(f"expected a field name, found {name!r}")
        self.fields.append(name)
        negate = self.word("NOT")
        if self.word("IN"):
            self.expect("(")
            values = []
            while True:
                k, raw = self.take()
                values.append(_literal(k, raw))
                if self.peek()[1] == ",":
                    self.i += 1
                    continue
                self.expect(")")
                break
            return lambda get: any(_compare("=", get(name), v) for v in values) != negate
        if negate:
            raise SoqlError("NOT must be followed by IN here")
        if self.word("LIKE"):
            k, raw = self.take()
            pattern = _text(_literal(k, raw))
            return lambda get: _like(get(name), pattern)
        k, op = self.take()
        if k != "op" or op in ("(", ")", ","):
            raise SoqlError(f"expected an operator after {name}, found {op!r}")
        vk, raw = self.take()
        value = _literal(vk, raw)
        return lambda get: _compare(op, get(name), value)


def _field_list(p: _Parser) -> list[str]:
    fields: list[str] = []
    while True:
        kind, name = p.take()
        if kind != "word":
            raise SoqlError(f"expected a field name, found {name!r}")
        fields.append(name)
        if p.peek()[1] != ",":
            return fields
        p.i += 1


def _subquery(p: _Parser) -> Subquery:
    """After ``(``: ``SELECT fields FROM relationship [WHERE …])``."""
    if not p.word("SELECT"):
        raise SoqlError("a sub-query starts with SELECT")
    fields = _field_list(p)
    p.expect("FROM")
    kind, relationship = p.take()
    if kind != "word":
        raise SoqlError("expected a relationship after FROM")
    sub = Subquery(relationship, fields)
    if p.word("WHERE"):
        outer, p.fields = p.fields, []
        sub.where = p.or_expr()
        sub.filter_fields, p.fields = p.fields, outer
    p.expect(")")
    return sub


def parse(text: str) -> Query:
    p = _Parser(_tokens(text))
    if not p.word("SELECT"):
        raise SoqlError("a query starts with SELECT")
    fields: list[str] = []
    children: list[Subquery] = []
    count = False
    while True:
        kind, name = p.take()
        if name == "(":
            children.append(_subquery(p))
        elif kind != "word":
            raise SoqlError(f"expected a field name, found {name!r}")
        elif name.upper() == "COUNT()":
            count = True
        else:
            fields.append(name)
        if p.peek()[1] == ",":
            p.i += 1
            continue
        break
    p.expect("FROM")
    kind, obj = p.take()
    if kind != "word":
        raise SoqlError("expected an object after FROM")
    query = Query(fields=fields, object=obj, children=children, count=count)
    if p.word("WHERE"):
        query.where = p.or_expr()
        query.filter_fields = p.fields
    if p.word("ORDER"):
        p.expect("BY")
        query.order_by = p.take()[1]
        if p.word("DESC"):
            query.descending = True
        else:
            p.word("ASC")
        if p.word("NULLS"):
            p.take()
    if p.word("LIMIT"):
        kind, raw = p.take()
        if kind != "num" or not raw.isdigit():
            raise SoqlError("LIMIT takes a whole number")
        query.limit = int(raw)
    if p.peek()[0]:
        raise SoqlError(f"unexpected token {p.peek()[1]!r}")
    return query


__all__ = ["Query", "SoqlError", "Subquery", "parse"]
