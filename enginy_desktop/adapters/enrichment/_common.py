"""What the enrichment adapters share: opening an :class:`~enginy_desktop.adapters.http.ApiClient` from a saved
connection, reading the ``x-rate-limit-*`` headers Apollo and Lusha send, and a few value helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..base import AuthError, Connection, RateLimit
from ..http import ApiClient, ErrorHook, RateInfo, Reply, RetryPolicy, SlidingWindowLimiter


def api_key(connection: Connection, vendor_name: str) -> str:
    key = (connection.get_secret("api_key") or "").strip()
    if not key:
        raise AuthError(f"No {vendor_name} API key is saved. Open Integrations → {vendor_name} → Connect and paste "
                        f"your API key (on the command line: `enginy-desktop connect {connection.key} --secret-stdin "
                        "api_key`).", vendor=connection.key)
    return key


def open_client(
    connection: Connection,
    *,
    vendor_name: str,
    default_base_url: str,
    rate_limit: RateLimit,
    transport: Any = None,
    auth: Any = None,
    headers: Mapping[str, str] | None = None,
    error_hook: ErrorHook | None = None,
    rate_info: Any = None,
    secret: str = "",
    options: Mapping[str, Any] | None = None,
) -> ApiClient:
    """``options``: ``retry`` (a RetryPolicy), ``rate_limit`` (a RateLimit replacing the provider's default)."""
    opts = dict(options or {})
    limit = opts.get("rate_limit") or rate_limit
    retry = opts.get("retry") or RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=20.0, max_wait=90.0)
    return ApiClient(
        connection.key,
        connection.setting("base_url") or default_base_url,
        vendor_name=vendor_name,
        auth=auth,
        limiter=SlidingWindowLimiter(limit, name=f"{vendor_name} {limit}"),
        retry=retry,
        transport=transport,
        headers=headers,
        error_hook=error_hook,
        rate_info=rate_info,
        secrets=(secret,) if secret else (),
    )


def minute_rate_info(reply: Reply) -> RateInfo:
    """``x-rate-limit-minute`` / ``x-minute-requests-left`` (Apollo's and Lusha's documented headers)."""

    def num(name: str) -> int | None:
        raw = reply.header(name)
        try:
            return int(float(raw)) if raw else None
        except ValueError:
            return None

    return RateInfo(
        maximum=num("x-rate-limit-minute"),
        remaining=num("x-minute-requests-left"),
        interval_seconds=60.0,
        daily_remaining=num("x-daily-requests-left"),
    )


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def size_band(employees: Any) -> str:
    """An employee count as the usual size band ("51-200")."""
    try:
        n = int(employees)
    except (TypeError, ValueError):
        return text(employees)
    for upper, band in ((10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"), (1000, "501-1000"),
                        (5000, "1001-5000"), (10000, "5001-10000")):
        if n <= upper:
            return band
    return "10001+"


def join_location(*parts: Any) -> str:
    return ", ".join(p for p in (text(x) for x in parts) if p)


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (vendors send null for missing objects)."""
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def money(value: Any) -> str:
    """1_000_000 -> "$1M", 2_500_000_000 -> "$2.5B" (a revenue figure as people read it)."""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return text(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"${n / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"${n:.0f}"
