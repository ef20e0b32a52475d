"""Match local records against CRM records by an identifier rule (DESIGN §5), in linear time.

Each AND-group of the rule gets one hash index over the CRM records, keyed by the group's normalized values
(a string for a one-condition group, a tuple otherwise) and holding the CRM record's position. A local record
looks its keys up in every group's index; the distinct CRM records found decide its outcome:

- **matched**: exactly one CRM record (``why`` names the first group that found it);
- **new**: none, and at least one group had all its values;
- **ambiguous**: several distinct CRM records (the candidates are kept; nothing is chosen silently);
- **unmatchable**: every group has an empty value, so the record cannot be compared safely.

New local records that share a complete group key with each other are grouped (union-find), so an export
creates one CRM record for the group, not one per row.

Records are plain mappings, objects with a ``get(field)`` method (the adapters' ``CrmRecord``) or objects
with attributes (dataclasses, ORM rows), given as a mapping id -> record, pairs ``(id, record)``, or
:class:`Columns` (ids plus one sequence per field, the cheapest form for millions of rows). Results are held
in flat arrays, not one object per record; per-record views are built on demand.

A CRM record may hold several values in one field (a tuple or a list: e.g. the names of every company a contact
belongs to, its primary one and the others). The record is then found by each of them: a local value equal to any
one matches (after the same normalization), and the record still counts once.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import product, repeat
from operator import itemgetter, methodcaller
from typing import Any

from enginy_desktop.core.collector import collector_paused

from .normalize import Kind, normalize_column
from .rules import (
    LOCAL_COMPANY_FIELDS,
    LOCAL_CONTACT_FIELDS,
    AndGroup,
    Condition,
    Role,
    Rule,
)

__all__ = [
    "Columns",
    "DuplicateRisk",
    "MatchResult",
    "MatchSummary",
    "Outcome",
    "RecordMatch",
    "duplicate_risk",
    "match",
]

_AMBIGUOUS_KEY = -1  # index value of a key shared by several CRM records (their positions are in `multi`)


class Outcome(StrEnum):
    MATCHED = "matched"
    NEW = "new"
    AMBIGUOUS = "ambiguous"
    UNMATCHABLE = "unmatchable"

    @property
    def label(self) -> str:
        return self.value.capitalize()


_CODES = {Outcome.MATCHED: 1, Outcome.NEW: 2, Outcome.AMBIGUOUS: 3, Outcome.UNMATCHABLE: 4}
_OUTCOMES = {code: outcome for outcome, code in _CODES.items()}
_MATCHED, _NEW, _AMBIGUOUS, _UNMATCHABLE = 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class Columns:
    """Records as columns: ``ids[i]`` is the id of the record whose field ``f`` is ``values[f][i]``.

    A field missing from ``values`` is empty for every record.
    """

    ids: Sequence[Hashable]
    values: Mapping[str, Sequence[Any]]

    def __post_init__(self) -> None:
        for name, column in self.values.items():
            if len(column) != len(self.ids):
                raise ValueError(f"Column {name!r} has {len(column)} values for {len(self.ids)} records.")


Records = Mapping[Hashable, Any] | Iterable[tuple[Hashable, Any]] | Columns


def _load(records: Records, fields: Sequence[str], *, unique_ids: bool) -> tuple[list[Hashable], dict[str, list]]:
    """Ids and one list per field. With ``unique_ids`` a repeated id keeps its last record (CRM pages can
    overlap); otherwise every row stays a record of its own."""
    if isinstance(records, Columns):
        ids = list(records.ids)
        columns = {f: list(records.values[f]) if f in records.values else [None] * len(ids) for f in fields}
    else:
        if isinstance(records, Mapping):
            ids = list(records.keys())
            rows = list(records.values())
        else:
            pairs = records if isinstance(records, list) else list(records)
            ids = list(map(itemgetter(0), pairs))
            rows = list(map(itemgetter(1), pairs))
        columns = {f: _column(rows, f) for f in fields}
    if unique_ids and not isinstance(records, Mapping):  # a mapping's keys are unique already
        last = dict(zip(ids, range(len(ids)), strict=True))
        if len(last) != len(ids):
            keep = sorted(last.values())
            ids = [ids[i] for i in keep]
            columns = {f: [col[i] for i in keep] for f, col in columns.items()}
    return ids, columns


def _column(rows: list[Any], name: str) -> list[Any]:
    """One field of every row: a mapping's item, a ``get(name)`` method's answer (the adapters' CrmRecord),
    or an attribute (dataclasses, ORM rows); missing is None."""
    types = set(map(type, rows))
    if types <= {dict}:
        return list(map(dict.get, rows, repeat(name)))
    if all(callable(getattr(t, "get", None)) for t in types):
        return list(map(methodcaller("get", name), rows))
    return [r.get(name) if isinstance(r, Mapping) else getattr(r, name, None) for r in rows]


@dataclass(frozen=True, slots=True)
class RecordMatch:
    """One local record's outcome, built on demand from a :class:`MatchResult`."""

    local_id: Hashable
    outcome: Outcome
    crm_id: Hashable | None = None
    why: str = ""  # readable: "LinkedIn URL", "First name + Last name + Company name"
    candidates: tuple[Hashable, ...] = ()  # the CRM records of an ambiguous match
    duplicates: tuple[Hashable, ...] = ()  # other new local records that become the same CRM record


@dataclass(frozen=True, slots=True)
class MatchSummary:
    total: int
    matched: int
    new: int
    ambiguous: int
    unmatchable: int
    # New local records that merge into another new one (so an export creates `new - local_duplicates`).
    local_duplicates: int
    # CRM records that share an identifier key with another CRM record (duplicates already in the CRM).
    crm_duplicates: int

    @property
    def creates(self) -> int:
        """CRM records an export would create for the new local records."""
        return self.new - self.local_duplicates


@dataclass(eq=False)
class MatchResult:
    """The outcome of every local record, as flat arrays indexed by the local record's position."""

    rule: Rule
    local_ids: list[Hashable]
    crm_ids: list[Hashable]
    codes: bytearray  # one outcome code per local record
    crm_pos: array  # matched CRM position, or -1
    why_group: array  # index of the group that matched, or -1
    candidates: dict[int, tuple[int, ...]]  # local position -> CRM positions (ambiguous records)
    duplicate_groups: list[list[int]]  # groups (>= 2) of new local positions that are one record
    crm_duplicates: int = 0
    _group_of: dict[int, int] = field(default_factory=dict, repr=False)
    _position: dict[Hashable, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for gi, members in enumerate(self.duplicate_groups):
            for pos in members:
                self._group_of[pos] = gi

    def __len__(self) -> int:
        return len(self.local_ids)

    def __iter__(self) -> Iterator[RecordMatch]:
        return (self.at(pos) for pos in range(len(self.local_ids)))

    def why(self, group_index: int) -> str:
        return self.rule.groups[group_index].display if group_index >= 0 else ""

    def at(self, pos: int) -> RecordMatch:
        """The outcome of the local record at position ``pos`` (the order the records were given in)."""
        outcome = _OUTCOMES[self.codes[pos]]
        local_id = self.local_ids[pos]
        if outcome is Outcome.MATCHED:
            return RecordMatch(local_id, outcome, self.crm_ids[self.crm_pos[pos]], self.why(self.why_group[pos]))
        if outcome is Outcome.AMBIGUOUS:
            return RecordMatch(local_id, outcome, candidates=tuple(self.crm_ids[c] for c in self.candidates[pos]))
        if outcome is Outcome.NEW and pos in self._group_of:
            others = tuple(self.local_ids[p] for p in self.duplicate_groups[self._group_of[pos]] if p != pos)
            return RecordMatch(local_id, outcome, duplicates=others)
        return RecordMatch(local_id, outcome)

    def __getitem__(self, local_id: Hashable) -> RecordMatch:
        if self._position is None:
            self._position = {lid: pos for pos, lid in enumerate(self.local_ids)}
        return self.at(self._position[local_id])

    def records(self, outcome: Outcome | None = None) -> Iterator[RecordMatch]:
        """Every record's outcome in order, or only those with ``outcome``."""
        if outcome is None:
            return iter(self)
        code = _CODES[outcome]
        return (self.at(pos) for pos, c in enumerate(self.codes) if c == code)

    def links(self) -> Iterator[tuple[Hashable, Hashable, str]]:
        """``(local id, CRM id, why it matched)`` for every matched record: what a sync records."""
        whys = [g.display for g in self.rule.groups]
        for pos, code in enumerate(self.codes):
            if code == _MATCHED:
                yield self.local_ids[pos], self.crm_ids[self.crm_pos[pos]], whys[self.why_group[pos]]

    def count(self, outcome: Outcome) -> int:
        return self.codes.count(_CODES[outcome])

    @property
    def summary(self) -> MatchSummary:
        merged = sum(len(g) - 1 for g in self.duplicate_groups)
        return MatchSummary(
            total=len(self.local_ids),
            matched=self.count(Outcome.MATCHED),
            new=self.count(Outcome.NEW),
            ambiguous=self.count(Outcome.AMBIGUOUS),
            unmatchable=self.count(Outcome.UNMATCHABLE),
            local_duplicates=merged,
            crm_duplicates=self.crm_duplicates,
        )


class _Several(list):
    """The distinct normalized values of one CRM field that holds several (two or more, no None)."""

    __slots__ = ()


_MANY = (tuple, list)
_MANY_TYPES = frozenset(_MANY)


def _normalized_several(column: list[Any], kind: Kind, any_extension: bool) -> list[Any]:
    """:func:`normalize_column` for a CRM column where some records hold several values: those get a
    :class:`_Several` of their distinct normalized values (a plain string when only one is left, None when none)."""
    flat: list[Any] = []
    owners: list[int] = []
    for pos, value in enumerate(column):
        if type(value) in _MANY:
            flat.extend(value)
            owners.extend(repeat(pos, len(value)))
        else:
            flat.append(value)
            owners.append(pos)
    out: list[Any] = [None] * len(column)
    for pos, norm in zip(owners, normalize_column(flat, kind, any_extension=any_extension), strict=True):
        if norm is None:
            continue
        held = out[pos]
        if held is None:
            out[pos] = norm
        elif type(held) is _Several:
            if norm not in held:
                held.append(norm)
        elif held != norm:
            out[pos] = _Several((held, norm))
    return out


def _normalized_columns(rule: Rule, columns: dict[str, list], side: str
                        ) -> tuple[list[list[Any]], list[dict[int, list[Any]]]]:
    """Per group, the list of keys: the normalized string of a one-condition group (None when empty), or a
    tuple of normalized strings (incomplete when it holds a None). On the CRM side, a record that holds several
    values in a field has None there and its keys (every complete combination) in the group's second item."""
    cache: dict[tuple[str, Kind], list[Any]] = {}
    several: set[tuple[str, Kind]] = set()

    def normalized(cond: Condition) -> list[Any]:
        name = cond.local_field if side == "local" else cond.crm_field
        key = (name, cond.kind)
        if key not in cache:
            column = columns[name]
            if side == "crm" and not _MANY_TYPES.isdisjoint(map(type, column)):
                cache[key] = _normalized_several(column, cond.kind, rule.include_any_extension)
                several.add(key)
            else:
                cache[key] = normalize_column(column, cond.kind, any_extension=rule.include_any_extension)
        return cache[key]

    keys: list[list[Any]] = []
    alternatives: list[dict[int, list[Any]]] = []
    for group in rule.groups:
        cols = [normalized(c) for c in group.conditions]
        group_keys = cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))
        more: dict[int, list[Any]] = {}
        if any((c.crm_field, c.kind) in several for c in group.conditions):
            group_keys, more = _alternatives(group_keys, len(cols) > 1)
        keys.append(group_keys)
        alternatives.append(more)
    return keys, alternatives


def _alternatives(keys: list[Any], tuples: bool) -> tuple[list[Any], dict[int, list[Any]]]:
    """``keys`` with None for the records holding several values, and those records' keys: position -> every
    complete key of the record (each combination of its values, for a group of several conditions)."""
    out: dict[int, list[Any]] = {}
    keys = list(keys)  # a one-condition group's keys are the (shared) normalized column itself
    for pos, key in enumerate(keys):
        if not tuples:
            if type(key) is _Several:
                out[pos] = list(key)
                keys[pos] = None
        elif any(type(part) is _Several for part in key):
            keys[pos] = None
            if None not in key:
                out[pos] = list(product(*(part if type(part) is _Several else (part,) for part in key)))
    return keys, out


def _build_index(keys: list[Any], tuples: bool, alternatives: Mapping[int, list[Any]] | None = None
                 ) -> tuple[dict[Any, int], dict[Any, list[int]]]:
    """Key -> CRM position; a key held by several CRM records maps to -1 and lists them in the second dict.
    Incomplete keys (None, or with ``tuples`` a tuple holding a None) are left out, so looking one up finds
    nothing. ``alternatives``: the keys of records that hold several (position -> its distinct keys), each indexed
    like a key of its own."""
    index: dict[Any, int] = {}
    multi: dict[Any, list[int]] = {}
    setdefault = index.setdefault
    for pos, key in enumerate(keys):
        if key is None or (tuples and None in key):
            continue
        prev = setdefault(key, pos)
        if prev != pos:
            if prev == _AMBIGUOUS_KEY:
                multi[key].append(pos)
            else:
                index[key] = _AMBIGUOUS_KEY
                multi[key] = [prev, pos]
    for pos, several in (alternatives or {}).items():
        for key in several:
            prev = setdefault(key, pos)
            if prev == pos:
                continue
            if prev == _AMBIGUOUS_KEY:
                multi[key].append(pos)
            else:
                index[key] = _AMBIGUOUS_KEY
                multi[key] = [prev, pos]
    return index, multi


def _check_rule(rule: Rule) -> None:
    problems = rule.problems()
    if problems:
        raise ValueError("The identifier cannot be used: " + " ".join(problems))


def match(rule: Rule, local: Records, crm: Records, *, group_duplicates: bool = True) -> MatchResult:
    """Match every local record against the CRM records by ``rule``. Linear in the number of records."""
    _check_rule(rule)
    with collector_paused():
        return _match(rule, local, crm, group_duplicates)


def _match(rule: Rule, local: Records, crm: Records, group_duplicates: bool) -> MatchResult:
    crm_ids, crm_columns = _load(crm, rule.crm_fields, unique_ids=True)
    crm_keys, crm_alternatives = _normalized_columns(rule, crm_columns, "crm")
    del crm_columns
    indexes = [_build_index(keys, len(group.conditions) > 1, more)
               for keys, more, group in zip(crm_keys, crm_alternatives, rule.groups, strict=True)]
    del crm_keys, crm_alternatives
    crm_duplicates = len(set().union(*(p for _, multi in indexes for p in multi.values())))

    local_ids, local_columns = _load(local, rule.local_fields, unique_ids=False)
    local_keys, _ = _normalized_columns(rule, local_columns, "local")
    del local_columns
    n = len(local_ids)
    # One C-speed pass per group: the CRM position found, -1 for a key shared by several, None for no hit.
    hits = [list(map(index.get, keys)) for (index, _), keys in zip(indexes, local_keys, strict=True)]

    codes = bytearray(n)
    crm_pos = array("q", [-1]) * n
    why_group = array("h", [-1]) * n
    candidates: dict[int, tuple[int, ...]] = {}
    n_groups = len(rule.groups)
    tuple_keys = [len(g.conditions) > 1 for g in rule.groups]
    seen: list[dict[Any, int]] = [{} for _ in rule.groups]
    parent: dict[int, int] = {}

    def find(pos: int) -> int:
        root = pos
        while root in parent:
            root = parent[root]
        while pos != root:  # path compression
            parent[pos], pos = root, parent[pos]
        return root

    for pos, found in enumerate(zip(*hits, strict=True)):
        misses = found.count(None)
        if misses == n_groups:  # no CRM record: new, unless no group could be compared at all
            complete = False
            for g in range(n_groups):
                key = local_keys[g][pos]
                if key is None or (tuple_keys[g] and None in key):
                    continue
                complete = True
                if not group_duplicates:
                    break
                first = seen[g].setdefault(key, pos)
                if first != pos:
                    a, b = find(first), find(pos)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            codes[pos] = _NEW if complete else _UNMATCHABLE
            continue
        if misses == n_groups - 1:  # one group found something: the common case
            g = 0
            while found[g] is None:
                g += 1
            hit = found[g]
            if hit != _AMBIGUOUS_KEY:
                codes[pos] = _MATCHED
                crm_pos[pos] = hit
                why_group[pos] = g
                continue
        else:
            distinct = set(found)
            distinct.discard(None)
            if len(distinct) == 1 and _AMBIGUOUS_KEY not in distinct:
                hit = distinct.pop()
                codes[pos] = _MATCHED
                crm_pos[pos] = hit
                why_group[pos] = found.index(hit)
                continue
        # Several CRM records: from different groups, or one key the CRM holds more than once.
        union: set[int] = set()
        for g, h in enumerate(found):
            if h is None:
                continue
            if h == _AMBIGUOUS_KEY:
                union.update(indexes[g][1][local_keys[g][pos]])
            else:
                union.add(h)
        codes[pos] = _AMBIGUOUS
        candidates[pos] = tuple(sorted(union))

    groups: dict[int, list[int]] = {}
    for pos in parent:
        groups.setdefault(find(pos), []).append(pos)
    duplicate_groups = sorted(sorted([root, *members]) for root, members in groups.items())
    return MatchResult(
        rule=rule,
        local_ids=local_ids,
        crm_ids=crm_ids,
        codes=codes,
        crm_pos=crm_pos,
        why_group=why_group,
        candidates=candidates,
        duplicate_groups=duplicate_groups,
        crm_duplicates=crm_duplicates,
    )


# --- duplicate risk ----------------------------------------------------------------------------------------

TROUBLESHOOTING_DUPLICATES = (
    "Review and tighten the Contact or Company Identifier. Consider using the LinkedIn profile URL option for "
    "contacts or enabling Include any domain extension for companies."
)


@dataclass(frozen=True, slots=True)
class DuplicateRisk:
    """How safely an identifier matches given local and CRM data, and what the product text recommends."""

    object_type: str  # "contact" or "company"
    current: MatchSummary
    suggested_rule: Rule | None = None
    suggested: MatchSummary | None = None
    # New under the current identifier but matched under the suggested one: likely duplicates on export.
    rescued: int = 0
    message: str = ""

    @property
    def at_risk(self) -> int:
        return self.current.ambiguous + self.current.unmatchable + self.rescued

    @property
    def risky(self) -> bool:
        return self.at_risk > 0


def _has_kind(rule: Rule, kind: Kind) -> bool:
    return any(c.kind is kind for g in rule.groups for c in g.conditions)


def _suggest(rule: Rule, object_type: str, crm_fields: Mapping[str, str] | None) -> Rule | None:
    if object_type == "contact":
        if _has_kind(rule, Kind.LINKEDIN_URL):
            return None
        crm_field = (crm_fields or {}).get(Role.LINKEDIN_URL, Role.LINKEDIN_URL.value)
        linkedin = Condition(LOCAL_CONTACT_FIELDS[Role.LINKEDIN_URL], crm_field, Kind.LINKEDIN_URL, "LinkedIn URL")
        return Rule((AndGroup((linkedin,)), *rule.groups), rule.include_any_extension)
    if rule.include_any_extension:
        return None
    if _has_kind(rule, Kind.DOMAIN):
        return Rule(rule.groups, include_any_extension=True)
    crm_field = (crm_fields or {}).get(Role.DOMAIN, Role.DOMAIN.value)
    domain = Condition(LOCAL_COMPANY_FIELDS[Role.DOMAIN], crm_field, Kind.DOMAIN, "Domain")
    return Rule((AndGroup((domain,)), *rule.groups), include_any_extension=True)


def _records(n: int, object_type: str) -> str:
    if object_type == "contact":
        return f"{n:,} contact" + ("" if n == 1 else "s")
    return f"{n:,} compan" + ("y" if n == 1 else "ies")


def duplicate_risk(
    rule: Rule,
    local: Records,
    crm: Records,
    *,
    object_type: str,
    crm_fields: Mapping[str, str] | None = None,
) -> DuplicateRisk:
    """Check an identifier on real data before exporting: how many local records would be ambiguous or
    unmatchable, how many would be exported as new although the identifier the troubleshooting table
    recommends (LinkedIn profile URL for contacts, Include any domain extension for companies) finds them in
    the CRM. ``crm_fields`` maps roles to CRM field names, as for the presets."""
    if object_type not in ("contact", "company"):
        raise ValueError("object_type must be 'contact' or 'company'.")
    if not isinstance(local, Columns | Mapping):
        local = list(local)
    if not isinstance(crm, Columns | Mapping):
        crm = list(crm)
    current = match(rule, local, crm)
    suggested_rule = _suggest(rule, object_type, crm_fields)
    suggested = None
    rescued = 0
    if suggested_rule is not None:
        alt = match(suggested_rule, local, crm)
        suggested = alt.summary
        rescued = sum(1 for a, b in zip(current.codes, alt.codes, strict=True) if a == _NEW and b == _MATCHED)
    summary = current.summary
    parts = []
    if summary.ambiguous:
        n = summary.ambiguous
        parts.append(f"{_records(n, object_type)} {'matches' if n == 1 else 'match'} several CRM records")
    if summary.unmatchable:
        parts.append(f"{_records(summary.unmatchable, object_type)} cannot be compared (an identifier field is empty)")
    if rescued:
        pronoun = "it is" if rescued == 1 else "they are"
        parts.append(f"{_records(rescued, object_type)} would be created again although {pronoun} in the CRM")
    message = ""
    if parts:
        identifier = "Contact Identifier" if object_type == "contact" else "Company Identifier"
        message = "; ".join(parts) + f". Review and tighten the {identifier} in Step 1."
        if suggested_rule is not None:
            message += (
                " Consider using the LinkedIn profile URL option."
                if object_type == "contact"
                else " Consider enabling Include any domain extension."
            )
    return DuplicateRisk(object_type, summary, suggested_rule, suggested, rescued, message)
