"""Prompt templates with ``{{field}}`` placeholders (DESIGN §14).

A placeholder names a value of the row: a field of the list's records (``{{first_name}}`` or its label
``{{First name}}``), a field of a contact's company (``{{company.industry}}``), or a custom field of the list —
values imported from a CSV, found by enrichment, or written by another AI column (``{{Lead score}}`` or
``{{custom.Lead score}}``). :func:`check` says, as the user types, which placeholders are unknown (with what they
probably meant) and which are fine; :func:`render` fills a template for one row and reports the placeholders that
were empty, so a row whose placeholders are empty is skipped and counted instead of being sent half-filled.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enginy_desktop.core import fields as F
from enginy_desktop.core.fields import RecordKind

__all__ = [
    "PLACEHOLDER",
    "Placeholder",
    "Rendered",
    "TemplateCheck",
    "Vocabulary",
    "check",
    "placeholders",
    "render",
]

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
COMPANY_PREFIX = "company."
CUSTOM_PREFIX = "custom."


@dataclass(frozen=True, slots=True)
class Placeholder:
    """What a placeholder reads: ``source`` is ``record``, ``company`` or ``custom``; ``name`` the field name
    (or the custom field's name); ``label`` how the user reads it."""

    source: str
    name: str
    label: str

    @property
    def key(self) -> str:
        """The canonical spelling of the placeholder."""
        if self.source == "company":
            return COMPANY_PREFIX + self.name
        if self.source == "custom":
            return self.name
        return self.name


@dataclass(frozen=True)
class Vocabulary:
    """The placeholders one list allows: its records' fields, its contacts' companies' fields, its custom fields."""

    kind: RecordKind
    custom: tuple[str, ...] = ()

    def entries(self) -> list[Placeholder]:
        return list(_entries(self))

    def resolve(self, text: str) -> Placeholder | None:
        # A run renders the same few placeholders for thousands of rows: each is resolved once per vocabulary
        # (in a worker thread, a pure-Python loop over every field per row would hold the GIL the window needs).
        return _resolve(self, text)

    def _resolve(self, text: str) -> Placeholder | None:
        wanted = text.strip()
        folded = wanted.casefold()
        if folded.startswith(CUSTOM_PREFIX):
            name = wanted[len(CUSTOM_PREFIX):].strip()
            for n in self.custom:
                if n.casefold() == name.casefold():
                    return Placeholder("custom", n, n)
            return None
        entries = self.entries()
        for e in entries:  # exact names first (first_name, company.industry)
            if e.key.casefold() == folded:
                return e
        for e in entries:  # then labels (First name, Company: Industry) and custom names
            if e.label.casefold() == folded:
                return e
        return None

    def usable(self) -> str:
        """The placeholders a prompt can use, in one sentence (for a placeholder that is nothing like any)."""
        own = [e.key for e in self.entries() if e.source == "record"]
        custom = [e.key for e in self.entries() if e.source == "custom"]
        text = "The fields you can use: " + ", ".join("{{" + k + "}}" for k in own + custom)
        if self.kind is RecordKind.CONTACT:
            text += "; and the company's, as {{company.FIELD}} (e.g. {{company.industry}})"
        return text + "."

    def suggestions(self, text: str, n: int = 3) -> list[str]:
        names = [e.key for e in self.entries()] + [e.label for e in self.entries()]
        return difflib.get_close_matches(text.strip(), names, n=n, cutoff=0.6)


@functools.lru_cache(maxsize=64)
def _entries(vocabulary: Vocabulary) -> tuple[Placeholder, ...]:
    kind = vocabulary.kind
    out = [Placeholder("record", f.name, f.label) for f in F.fields_for(kind)]
    if kind is RecordKind.CONTACT:
        out += [Placeholder("company", f.name, f"Company: {f.label}") for f in F.fields_for(RecordKind.COMPANY)]
    out += [Placeholder("custom", n, n) for n in vocabulary.custom]
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _resolve(vocabulary: Vocabulary, text: str) -> Placeholder | None:
    return vocabulary._resolve(text)


@dataclass(frozen=True)
class TemplateCheck:
    """The placeholders of a template: the ones understood, the unknown ones with a readable message."""

    known: tuple[Placeholder, ...]
    unknown: tuple[str, ...]
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unknown and bool(self.known)

    @property
    def message(self) -> str:
        return " ".join(self.messages)


def placeholders(template: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(template)]


def check(template: str, vocabulary: Vocabulary) -> TemplateCheck:
    """Which placeholders ``template`` uses and which of them the list does not have."""
    known: list[Placeholder] = []
    unknown: list[str] = []
    messages: list[str] = []
    for raw in placeholders(template):
        resolved = vocabulary.resolve(raw) if raw else None
        if resolved is None:
            if raw not in unknown:
                unknown.append(raw)
                hint = vocabulary.suggestions(raw)
                also = (f" Did you mean {' or '.join('{{' + h + '}}' for h in hint)}?" if hint
                        else f" {vocabulary.usable()}")
                messages.append(f"{{{{{raw}}}}} is not a field of this list.{also}")
        elif resolved not in known:
            known.append(resolved)
    if not template.strip():
        messages.append("Write the prompt.")
    elif not known and not unknown:
        messages.append("Use at least one placeholder such as {{company_name}}: without one every row gets the "
                        "same answer.")
    return TemplateCheck(tuple(known), tuple(unknown), tuple(messages))


@dataclass(frozen=True)
class Rendered:
    text: str
    empty: tuple[str, ...] = field(default_factory=tuple)  # placeholders with no value in this row

    @property
    def complete(self) -> bool:
        return not self.empty


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def render(template: str, vocabulary: Vocabulary, row: Mapping[str, Any],
           company: Mapping[str, Any] | None = None) -> Rendered:
    """``template`` with every placeholder replaced by the row's value. ``row`` holds the record's fields and
    ``custom_fields``; ``company`` the contact's company (fields and ``custom_fields``) or None."""
    custom = row.get("custom_fields") or {}
    empty: list[str] = []

    def value_of(p: Placeholder) -> str:
        if p.source == "company":
            return _text((company or {}).get(p.name))
        if p.source == "custom":
            return _text(custom.get(p.name))
        return _text(row.get(p.name))

    def replace(m: re.Match[str]) -> str:
        raw = m.group(1)
        p = vocabulary.resolve(raw)
        value = value_of(p) if p is not None else ""
        if not value and raw not in empty:
            empty.append(raw)
        return value

    text = PLACEHOLDER.sub(replace, template)
    return Rendered(text, tuple(empty))


def needs_company(known: Iterable[Placeholder]) -> bool:
    return any(p.source == "company" for p in known)


def used_fields(known: Sequence[Placeholder]) -> list[str]:
    return [p.name for p in known if p.source == "record"]
