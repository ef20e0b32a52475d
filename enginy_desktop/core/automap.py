"""Mapping suggestions by name similarity (the wizard proposes them; the user confirms each one).

Names differ between Enginy and each CRM (``job_title`` / ``jobtitle`` / ``Title``), and
labels differ too (``Employees`` / ``Number of Employees``). :func:`similarity` compares a pair of fields by
their internal names and their labels, ignoring case, separators, vendor prefixes (``hs_``) and word order;
the ``suggest_*`` functions pair fields one to one, best score first, and never propose what is already mapped.

Nothing here is applied silently: a suggestion is a proposal the wizard shows with its score.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from .catalog import integration_keys

__all__ = [
    "DEFAULT_THRESHOLD",
    "Suggestion",
    "best_match",
    "similarity",
    "suggest_pairs",
    "suggest_users",
]

DEFAULT_THRESHOLD = 0.75

# Vendor prefixes (every integration's key, and the usual short forms) and filler words that say nothing about
# what a field holds.
_VENDORS = {*integration_keys(), "hs", "sf", "zoho", "msdyn", "pd", "enginy"}
_PREFIXES = (*(f"{v}_" for v in sorted(_VENDORS)), "x_", "cf_", "custom_")
_FILLER = {"the", "of", "a", "an", "field", "property", "c", *_VENDORS}

# Whole names that mean the same thing, once compacted (see :func:`_compact`).
_SYNONYMS = {
    "mobile": "mobilephone",
    "cellphone": "mobilephone",
    "employees": "employeecount",
    "numberemployees": "employeecount",
    "headcount": "employeecount",
    "title": "jobtitle",
    "position": "jobtitle",
    "web": "website",
    "websiteurl": "website",
    "telephone": "phone",
    "phonenumber": "phone",
    "zip": "postalcode",
    "zipcode": "postalcode",
    "postcode": "postalcode",
    "mail": "email",
    "emailaddress": "email",
    "companydomainname": "companydomain",
    "accountname": "name",  # a company's name where companies are accounts (Zoho, Salesforce, Dynamics)
    "linkedinprofileurl": "linkedinurl",
    "linkedinprofile": "linkedinurl",
}


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def _words(text: str) -> list[str]:
    """``"hs_LinkedIn-URL"`` -> ``["linkedin", "url"]``: camelCase split, separators and prefixes dropped."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = _ascii(text)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.replace("e-mail", "email")
    return [w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _FILLER]


def _compact(text: str) -> str:
    joined = "".join(_words(text))
    return _SYNONYMS.get(joined, joined)


def similarity(a_name: str, a_label: str, b_name: str, b_label: str) -> float:
    """How likely two fields hold the same thing, from 0 to 1 (1: same name or label once normalized)."""
    a_forms = {f for f in (_compact(a_name), _compact(a_label)) if f}
    b_forms = {f for f in (_compact(b_name), _compact(b_label)) if f}
    if not a_forms or not b_forms:
        return 0.0
    if a_forms & b_forms:
        return 1.0
    best = max(SequenceMatcher(None, a, b).ratio() for a in a_forms for b in b_forms)
    a_words = set(_words(a_name)) | set(_words(a_label))
    b_words = set(_words(b_name)) | set(_words(b_label))
    if a_words and b_words:
        common = a_words & b_words
        # Every word of the shorter side found in the longer one ("Employees" / "Number of Employees").
        cover = len(common) / min(len(a_words), len(b_words))
        jaccard = len(common) / len(a_words | b_words)
        best = max(best, 0.6 * cover + 0.4 * jaccard if common else 0.0)
    return round(min(best, 0.99), 3)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Map ``source`` to ``target``, with how sure the name comparison is (0..1)."""

    source: str
    target: str
    score: float
    source_label: str = ""
    target_label: str = ""


def _name(item: Any) -> str:
    return str(getattr(item, "name", item))


def _label(item: Any) -> str:
    return str(getattr(item, "label", "") or _name(item))


def best_match(name: str, label: str, candidates: Iterable[Any], threshold: float = DEFAULT_THRESHOLD) -> Any | None:
    """The candidate (anything with ``name`` and ``label``) most similar to ``name``/``label``, or None."""
    scored = [(similarity(name, label, _name(c), _label(c)), i, c) for i, c in enumerate(candidates)]
    scored = [s for s in scored if s[0] >= threshold]
    if not scored:
        return None
    return max(scored, key=lambda s: (s[0], -s[1]))[2]


def suggest_pairs(
    sources: Sequence[Any],
    targets: Sequence[Any],
    *,
    taken_sources: Iterable[str] = (),
    taken_targets: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Suggestion]:
    """One-to-one pairs of ``sources`` and ``targets`` (each with ``name`` and ``label``), best score first.

    Sources and targets already taken are left out; a pair scoring under ``threshold`` is not proposed.
    The result is in the order of ``sources``.
    """
    used_s, used_t = set(taken_sources), set(taken_targets)
    scored = []
    for si, s in enumerate(sources):
        if _name(s) in used_s:
            continue
        for ti, t in enumerate(targets):
            if _name(t) in used_t:
                continue
            score = similarity(_name(s), _label(s), _name(t), _label(t))
            if score >= threshold:
                scored.append((score, si, ti))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    chosen: dict[int, Suggestion] = {}
    for score, si, ti in scored:
        s, t = sources[si], targets[ti]
        if si in chosen or _name(t) in used_t:
            continue
        used_t.add(_name(t))
        chosen[si] = Suggestion(_name(s), _name(t), score, _label(s), _label(t))
    return [chosen[i] for i in sorted(chosen)]


def suggest_users(people: Mapping[str, tuple[str, str]], crm_users: Sequence[Any]) -> dict[str, str]:
    """Enginy people (id -> (name, email)) to CRM user ids: same email first, else the same full name.

    Inactive CRM users are never proposed; a name shared by several CRM users is not a match.
    """
    active = [u for u in crm_users if getattr(u, "active", True)]
    by_email = {str(getattr(u, "email", "") or "").strip().casefold(): str(u.id) for u in active}
    by_email.pop("", None)
    names: dict[str, list[str]] = {}
    for u in active:
        key = " ".join(_words(str(getattr(u, "name", "") or "")))
        if key:
            names.setdefault(key, []).append(str(u.id))
    result = {}
    for pid, (name, email) in people.items():
        found = by_email.get((email or "").strip().casefold())
        if found is None:
            ids = names.get(" ".join(_words(name or "")), [])
            found = ids[0] if len(ids) == 1 else None
        if found is not None:
            result[str(pid)] = found
    return result
