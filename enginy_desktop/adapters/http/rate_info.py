"""What a vendor's rate-limit headers and ``Retry-After`` say, for the limiter to pace itself on."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass

from .transport import Reply


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What a vendor's rate-limit headers said about one reply."""

    maximum: int | None = None
    remaining: int | None = None
    interval_seconds: float | None = None
    daily_remaining: int | None = None


def _int_header(reply: Reply, name: str) -> int | None:
    raw = reply.header(name)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def generic_rate_info(reply: Reply) -> RateInfo:
    """``X-RateLimit-*`` as Pipedrive and many others send them (reset in seconds)."""
    return RateInfo(
        maximum=_int_header(reply, "x-ratelimit-limit"),
        remaining=_int_header(reply, "x-ratelimit-remaining"),
        interval_seconds=None,
        daily_remaining=_int_header(reply, "x-daily-requests-left"),
    )


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


RateInfoHook = Callable[[Reply], RateInfo]
