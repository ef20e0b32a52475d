"""AI columns of a list: define, change, delete (DESIGN §14). Qt-free; returns plain dataclasses.

An AI column's values are stored on each record as the custom field of the column's name, so the list shows them
like any other column, other prompts can use them (``{{Opener}}``), and the CRM wizard's Step 2 maps them as the
Enginy field ``custom:<name>`` (:func:`ai_fields`). Which prompt version produced a value is kept beside it
(``ai_results``); changing the prompt, the output type, the model or the temperature makes a new version, and the
next run asks again only for the rows whose value came from an older one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core import fields as F
from enginy_desktop.core.fields import Field, FieldType, RecordKind
from enginy_desktop.core.models import AiColumn, AiResult, ContactList
from enginy_desktop.core.store import Store

from .outputs import OutputError, OutputSpec, OutputType
from .template import TemplateCheck, Vocabulary, check

__all__ = [
    "DEFAULT_MODEL",
    "AiColumnError",
    "AiColumnInfo",
    "AiColumnService",
    "ai_fields",
    "vocabulary_for",
]

DEFAULT_MODEL = "gpt-4o-mini"
CUSTOM = "custom:"
MAX_NAME = 60


class AiColumnError(ValueError):
    """A column definition that cannot be saved; ``str()`` says what to fix."""


@dataclass(frozen=True)
class AiColumnInfo:
    id: int
    list_id: int
    list_kind: RecordKind
    name: str
    prompt: str
    output: OutputSpec
    model: str
    temperature: float
    version: int
    updated_at: datetime | None = None

    @property
    def field_name(self) -> str:
        """The Enginy field Step 2 maps: ``custom:<name>``."""
        return CUSTOM + self.name

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "list_id": self.list_id, "name": self.name, "prompt": self.prompt,
            "output_type": self.output.type.value, "options": self.output.options(), "model": self.model,
            "temperature": self.temperature, "version": self.version, "field": self.field_name,
        }


def _list_kind(session: Any, list_id: int) -> RecordKind:
    kind = session.scalar(select(ContactList.kind).where(ContactList.id == list_id))
    if kind is None:
        raise AiColumnError(f"The list {list_id} no longer exists.")
    return RecordKind.from_list_kind(kind)


def _info(row: AiColumn, kind: RecordKind) -> AiColumnInfo:
    spec = OutputSpec.build(row.output_type, row.options)
    return AiColumnInfo(row.id, row.list_id, kind, row.name, row.prompt, spec, row.model, float(row.temperature),
                        row.version, row.updated_at)


def vocabulary_for(store: Store, list_id: int, *, exclude: str = "") -> Vocabulary:
    """The placeholders of ``list_id``: its fields, its contacts' companies' fields, its custom fields and AI
    columns (but ``exclude``, the column being edited: a column cannot read itself)."""
    with store.session() as s:
        kind = _list_kind(s, list_id)
        table = "contacts" if kind is RecordKind.CONTACT else "companies"
        custom = [r[0] for r in s.execute(text(
            f"SELECT DISTINCT j.key FROM (SELECT record_id FROM list_memberships WHERE list_id = :l "  # noqa: S608
            f"ORDER BY position LIMIT 2000) m JOIN {table} t ON t.id = m.record_id, json_each(t.custom_fields) j"
        ), {"l": list_id})]
        custom += list(s.scalars(select(AiColumn.name).where(AiColumn.list_id == list_id)))
    names = sorted({n for n in custom if n and n.casefold() != exclude.casefold()}, key=str.casefold)
    return Vocabulary(kind, tuple(names))


class AiColumnService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def columns(self, list_id: int) -> list[AiColumnInfo]:
        with self.store.session() as s:
            kind = _list_kind(s, list_id)
            rows = s.scalars(select(AiColumn).where(AiColumn.list_id == list_id).order_by(AiColumn.id)).all()
            return [_info(r, kind) for r in rows]

    def get(self, column_id: int) -> AiColumnInfo:
        with self.store.session() as s:
            row = s.get(AiColumn, column_id)
            if row is None:
                raise AiColumnError(f"There is no AI column number {column_id}.")
            return _info(row, _list_kind(s, row.list_id))

    def find(self, list_id: int, name: str) -> AiColumnInfo:
        with self.store.session() as s:
            row = s.scalar(select(AiColumn).where(AiColumn.list_id == list_id,
                                                  func.lower(AiColumn.name) == name.strip().lower()))
            if row is None:
                names = ", ".join(s.scalars(select(AiColumn.name).where(AiColumn.list_id == list_id))) or "none yet"
                raise AiColumnError(f"The list has no AI column named '{name}'. AI columns: {names}.")
            return _info(row, _list_kind(s, row.list_id))

    def check_prompt(self, list_id: int, prompt: str, *, name: str = "") -> TemplateCheck:
        return check(prompt, vocabulary_for(self.store, list_id, exclude=name))

    def validate(self, list_id: int, name: str, prompt: str, output_type: str, options: dict[str, Any] | None,
                 model: str, temperature: float, *, column_id: int | None = None) -> OutputSpec:
        """Raise :class:`AiColumnError` with every problem of a definition; returns its output spec."""
        problems: list[str] = []
        name = name.strip()
        if not name:
            problems.append("Give the column a name.")
        elif len(name) > MAX_NAME:
            problems.append(f"The name is longer than {MAX_NAME} characters.")
        elif any(ch in name for ch in "{}\"\\"):
            problems.append("The name cannot contain braces, quotes or backslashes.")
        with self.store.session() as s:
            kind = _list_kind(s, list_id)
        clash = [f for f in F.fields_for(kind) if name.casefold() in (f.name.casefold(), f.label.casefold())]
        if clash:
            problems.append(f"“{name}” is already a field of this list ({clash[0].label}); choose another name.")
        result = self.check_prompt(list_id, prompt, name=name)
        if not result.ok:
            problems.append(result.message)
        spec: OutputSpec | None = None
        try:
            spec = OutputSpec.build(output_type, options)
        except (OutputError, ValueError) as exc:
            problems.append(str(exc) if isinstance(exc, OutputError) else f"Unknown output type '{output_type}'.")
        if not (model or "").strip():
            problems.append("Choose a model.")
        if not 0.0 <= float(temperature) <= 2.0:
            problems.append("The temperature must be between 0 and 2.")
        if problems or spec is None:
            raise AiColumnError(" ".join(problems))
        return spec

    def create(self, list_id: int, name: str, prompt: str, output_type: str | OutputType = OutputType.TEXT,
               options: dict[str, Any] | None = None, model: str = DEFAULT_MODEL,
               temperature: float = 0.0) -> AiColumnInfo:
        spec = self.validate(list_id, name, prompt, str(output_type), options, model, temperature)
        try:
            with self.store.write() as s:
                row = AiColumn(list_id=list_id, name=name.strip(), prompt=prompt, output_type=spec.type.value,
                               options=spec.options(), model=model.strip(), temperature=float(temperature), version=1)
                s.add(row)
                s.flush()
                return _info(row, _list_kind(s, list_id))
        except IntegrityError:
            raise AiColumnError(f"This list already has an AI column named “{name.strip()}”.") from None

    def update(self, column_id: int, *, name: str | None = None, prompt: str | None = None,
               output_type: str | None = None, options: dict[str, Any] | None = None, model: str | None = None,
               temperature: float | None = None) -> AiColumnInfo:
        """Change a column; anything that changes the answer makes a new prompt version."""
        cur = self.get(column_id)
        new: dict[str, Any] = {
            "name": cur.name if name is None else name.strip(),
            "prompt": cur.prompt if prompt is None else prompt,
            "output_type": cur.output.type.value if output_type is None else output_type,
            "options": cur.output.options() if options is None else options,
            "model": cur.model if model is None else model.strip(),
            "temperature": cur.temperature if temperature is None else float(temperature),
        }
        spec = self.validate(cur.list_id, new["name"], new["prompt"], new["output_type"], new["options"],
                             new["model"], new["temperature"], column_id=column_id)
        changed = (new["prompt"] != cur.prompt or spec != cur.output or new["model"] != cur.model
                   or new["temperature"] != cur.temperature)
        try:
            with self.store.write() as s:
                row = s.get(AiColumn, column_id)
                assert row is not None
                if new["name"] != cur.name:
                    self._rename_values(s, cur, new["name"])
                row.name, row.prompt, row.output_type = new["name"], new["prompt"], spec.type.value
                row.options, row.model, row.temperature = spec.options(), new["model"], new["temperature"]
                if changed:
                    row.version += 1
                s.flush()
                return _info(row, cur.list_kind)
        except IntegrityError:
            raise AiColumnError(f"This list already has an AI column named “{new['name']}”.") from None

    def _rename_values(self, s: Any, cur: AiColumnInfo, new_name: str) -> None:
        table = "contacts" if cur.list_kind is RecordKind.CONTACT else "companies"
        old_path, new_path = _path(cur.name), _path(new_name)
        s.execute(text(
            f"UPDATE {table} SET custom_fields = json_remove(json_set(custom_fields, :new, "  # noqa: S608
            "json_extract(custom_fields, :old)), :old) WHERE id IN (SELECT record_id FROM ai_results "
            "WHERE column_id = :c) AND json_extract(custom_fields, :old) IS NOT NULL"),
            {"new": new_path, "old": old_path, "c": cur.id})

    def delete(self, column_id: int, *, keep_values: bool = False) -> None:
        """Delete the column; its values are removed from the records unless ``keep_values``."""
        cur = self.get(column_id)
        with self.store.write() as s:
            if not keep_values:
                table = "contacts" if cur.list_kind is RecordKind.CONTACT else "companies"
                s.execute(text(
                    f"UPDATE {table} SET custom_fields = json_remove(custom_fields, :p) "  # noqa: S608
                    "WHERE id IN (SELECT record_id FROM ai_results WHERE column_id = :c)"),
                    {"p": _path(cur.name), "c": column_id})
            s.execute(delete(AiResult).where(AiResult.column_id == column_id))
            s.execute(delete(AiColumn).where(AiColumn.id == column_id))
            s.execute(text("UPDATE lists SET updated_at = CURRENT_TIMESTAMP WHERE id = :l"), {"l": cur.list_id})

    def result_counts(self, column_id: int) -> dict[str, int]:
        """How many records hold a value of the current version, and of older versions."""
        cur = self.get(column_id)
        with self.store.session() as s:
            rows = s.execute(select(AiResult.version == cur.version, func.count()).where(
                AiResult.column_id == column_id).group_by(AiResult.version == cur.version)).all()
        out = {"current": 0, "older": 0}
        for is_current, n in rows:
            out["current" if is_current else "older"] += int(n)
        return out


def _path(name: str) -> str:
    return '$."' + name.replace('"', '\\"') + '"'


def ai_fields(store: Store) -> list[Field]:
    """Every AI column as an Enginy field Step 2 can map (``custom:<name>``, labelled "<name> (AI)"); a name used
    by columns of several lists of the same kind appears once."""
    try:
        with store.session() as s:
            rows = s.execute(select(AiColumn.name, ContactList.kind).join(
                ContactList, ContactList.id == AiColumn.list_id).order_by(AiColumn.name)).all()
    except Exception:  # a database without the AI tables (an older file being opened) has no AI fields
        return []
    out: dict[tuple[str, str], Field] = {}
    for name, kind in rows:
        record_kind = RecordKind.from_list_kind(kind)
        out.setdefault((record_kind.value, name.casefold()),
                       Field(CUSTOM + name, f"{name} (AI)", FieldType.TEXT, record_kind))
    return list(out.values())


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
