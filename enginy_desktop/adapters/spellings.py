"""How a value may be typed in a CRM field, for lookups in CRMs whose queries compare text exactly.

A website is stored as ``acme.com``, ``https://acme.com``, ``www.acme.com/`` … and an ``IN`` query finds only the
spelling it is given, so a lookup asks for every usual spelling and the normalized comparison decides locally.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import CrmField, FieldType


def spellings(field: CrmField | None, values: Sequence[str]) -> list[str]:
    """``values`` (trimmed, empty ones dropped), plus every usual spelling of each when ``field`` is a URL field."""
    out = [str(v).strip() for v in values if str(v).strip()]
    if field is None or field.type is not FieldType.URL:
        return out
    spelled: list[str] = []
    for v in out:
        bare = v.removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
        for host in (bare, f"www.{bare}"):
            spelled += [host, f"https://{host}", f"http://{host}", f"https://{host}/", f"http://{host}/"]
        spelled.append(v)
    return list(dict.fromkeys(spelled))


__all__ = ["spellings"]
