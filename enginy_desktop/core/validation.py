"""Small validators shared by connection settings and imports; each returns a user-readable problem or None."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(value: str, label: str) -> str | None:
    """Why ``value`` is not a usable web address, or None. http:// is accepted only for this computer."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return f"{label} is not a valid web address."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{label} must be a full web address starting with https:// (for example https://example.com)."
    if " " in value.strip():
        return f"{label} must not contain spaces."
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{label} must use https:// (http:// is allowed only for addresses on this computer)."
    return None
