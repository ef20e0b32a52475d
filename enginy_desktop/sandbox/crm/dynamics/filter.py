"""The part of OData ``$filter`` the Dynamics emulator understands: ``eq ne gt ge lt le``, ``and or not``,
parentheses, ``contains`` / ``startswith`` / ``endswith``, and Dataverse's
``Microsoft.Dynamics.CRM.In(PropertyName='p',PropertyValues=['a','b'])``
(https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/in). String comparisons
ignore case, as Dataverse's default collation does. Literals: OData v4.01 URL Conventions §5.1.1.

The TribeCRM emulator uses it too, without ``Microsoft.Dynamics.CRM.In`` (TribeCRM supports neither ``in`` nor
``has``) and with navigation paths such as ``Person/ID eq …`` (``dataverse_in=False``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Getter = Callable[[str], Any]
Predicate = Callable[[Getter], bool]

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<sym>[(),\[\]=])
)""", re.VERBOSE)


class FilterError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind in ("guid", "date"):
            out.append(("lit", raw.lower() if kind == "guid" else raw))
        elif kind == "num":
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "name" and raw in ("true", "false"):
            out.append(("lit", raw == "true"))
        elif kind == "name" and raw == "null":
            out.append(("lit", None))
        else:
            out.append((kind, raw))
    return out


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _norm(left), _norm(right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op])
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, known: Callable[[str], bool], type_name: str = "Microsoft.Dynamics.CRM.entity",
                 dataverse_in: bool = True) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.known = known
        self.type_name = type_name
        self.dataverse_in = dataverse_in
        self.names: list[str] = []

    def peek(self) -> tuple[str, Any]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, kind: str, value: Any = None) -> Any:
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            raise FilterError(f"Syntax error: expected {value or kind} but found '{v or 'the end'}'.")
        self.i += 1
        return v

    def prop(self, name: str) -> str:
        if not self.known(name):
            raise FilterError(f"Could not find a property named '{name}' on type '{self.type_name}'.")
        self.names.append(name)
        return name

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek()[0] != "end":
            raise FilterError(f"Syntax error: unexpected '{self.peek()[1]}'.")
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.peek() == ("name", "or"):
            self.i += 1
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda g: any(p(g) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == ("name", "and"):
            self.i += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda g: all(p(g) for p in parts))

    def unary(self) -> Predicate:
        if self.peek() == ("name", "not"):
            self.i += 1
            inner = self.unary()
            return lambda g: not inner(g)
        if self.peek() == ("sym", "("):
            self.i += 1
            inner = self.or_()
            self.take("sym", ")")
            return inner
        kind, value = self.peek()
        if kind != "name":
            raise FilterError(f"Syntax error: unexpected '{value}'.")
        if value == "Microsoft.Dynamics.CRM.In" and self.dataverse_in:
            return self.in_function()
        if value in ("contains", "startswith", "endswith"):
            return self.text_function(value)
        self.i += 1
        prop = self.prop(value)
        op = self.take("name")
        if op in ("in", "has"):
            raise FilterError(f"The '{op}' operator is not supported.")
        if op not in ("eq", "ne", "gt", "ge", "lt", "le"):
            raise FilterError(f"Syntax error: '{op}' is not a comparison operator.")
        right = self.take("lit")
        return lambda g: _compare(op, g(prop), right)

    def text_function(self, fn: str) -> Predicate:
        self.i += 1
        self.take("sym", "(")
        prop = self.prop(self.take("name"))
        self.take("sym", ",")
        needle = str(self.take("lit")).casefold()
        self.take("sym", ")")
        test = {"contains": lambda s: needle in s, "startswith": lambda s: s.startswith(needle),
                "endswith": lambda s: s.endswith(needle)}[fn]
        return lambda g: isinstance(g(prop), str) and test(g(prop).casefold())

    def in_function(self) -> Predicate:
        self.i += 1
        self.take("sym", "(")
        args: dict[str, Any] = {}
        while True:
            key = self.take("name")
            self.take("sym", "=")
            if self.peek() == ("sym", "["):
                self.i += 1
                items: list[Any] = []
                while self.peek() != ("sym", "]"):
                    items.append(self.take("lit"))
                    if self.peek() == ("sym", ","):
                        self.i += 1
                self.take("sym", "]")
                args[key] = items
            else:
                args[key] = self.take("lit")
            if self.peek() == ("sym", ","):
                self.i += 1
                continue
            break
        self.take("sym", ")")
        if set(args) != {"PropertyName", "PropertyValues"} or not isinstance(args["PropertyValues"], list):
            raise FilterError("Microsoft.Dynamics.CRM.In needs PropertyName and PropertyValues.")
        prop = self.prop(str(args["PropertyName"]))
        wanted = {_norm(str(v)) for v in args["PropertyValues"]}
        return lambda g: g(prop) is not None and _norm(str(g(prop))) in wanted


def parse_filter(text: str, known: Callable[[str], bool], *, type_name: str = "Microsoft.Dynamics.CRM.entity",
                 dataverse_in: bool = True) -> tuple[Predicate, list[str]]:
    """A predicate over a record getter, and the property names the filter used."""
    parser = _Parser(text, known, type_name, dataverse_in)
    return parser.parse(), parser.names
