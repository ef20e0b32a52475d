"""TheirStack company search, for importing companies (``apis/enrichment_apis.md`` §12).

Everything here is from TheirStack's own documentation:

- ``POST /v1/companies/search`` — filters in the JSON body, ``page``/``offset`` + ``limit`` paging, 3 API credits
  per company returned (https://theirstack.com/en/docs/api-reference/companies/search_companies_v1).
- Free count: ``include_total_results: true`` + ``blur_company_data: true`` + ``limit: 1`` costs nothing and
  fills ``metadata.total_results`` (https://theirstack.com/en/docs/api/free-count); preview mode blurs names,
  domains and URLs and is not available when filtering by company identifiers
  (https://theirstack.com/en/docs/api/preview-data-mode).
- ``company_domain_not`` excludes companies by domain: the import never pays for a company the target list
  already holds.
- ``GET /v0/billing/credit-balance`` → ``{api_credits, used_api_credits, …}``
  (https://theirstack.com/en/docs/api-reference/billing/get_billing_credit_balance_v0).
- Limits (https://theirstack.com/en/docs/api-reference/rate-limit): shared by the search endpoints, per user,
  sliding windows — Free plan 4/second, 10/minute, 50/hour, 400/day; paid plans 4/second — announced in IETF
  ``RateLimit`` / ``RateLimit-Policy`` headers (``"per-minute";r=9;t=60``), 429 when exceeded.
- Errors: ``{"request_id": …, "error": {"code": "E-…", "title": …, "description": …}}``. TheirStack does not
  document how it signals exhausted credits; an answer 402, or an error whose text speaks of credits, is treated
  as :class:`QuotaExhaustedError`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from enginy_desktop.adapters.base import (
    AdapterError,
    AuthError,
    Connection,
    FatalError,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    ValidationError,
)
from enginy_desktop.adapters.http import ApiClient, Reply, RetryPolicy, SlidingWindowLimiter, bearer_auth

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.theirstack.com"
CREDITS_PER_COMPANY = 3
MAX_PAGE = 100
PLANS = ("Free", "Paid")
# window seconds -> requests, per plan
PLAN_LIMITS: dict[str, dict[int, int]] = {
    "Free": {1: 4, 60: 10, 3600: 50, 86400: 400},
    "Paid": {1: 4},
}

__all__ = [
    "CREDITS_PER_COMPANY",
    "DEFAULT_BASE_URL",
    "PLANS",
    "PLAN_LIMITS",
    "CompanyHit",
    "CreditBalance",
    "SearchPage",
    "TheirStackAdapter",
    "parse_ratelimit",
]

_ITEM = re.compile(r'"?([\w-]+)"?\s*;\s*r=(\d+)\s*;\s*t=(\d+)')


def parse_ratelimit(value: str) -> list[tuple[str, int, int]]:
    """``RateLimit: "per-second";r=3;t=1, "per-minute";r=9;t=60`` → ``[("per-second", 3, 1), …]``."""
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in _ITEM.finditer(value or "")]


@dataclass(frozen=True)
class CompanyHit:
    """One company of a search answer, as Enginy keeps it."""

    theirstack_id: str
    name: str
    domain: str
    url: str = ""
    linkedin_url: str = ""
    industry: str = ""
    employee_count: int | None = None
    country: str = ""
    country_code: str = ""
    city: str = ""
    description: str = ""
    technologies: tuple[str, ...] = ()
    jobs_last_30_days: int | None = None
    hiring_for: tuple[str, ...] = ()  # titles of the matching job posts (the hiring signal)
    last_job_posted: str = ""

    @classmethod
    def from_json(cls, c: Mapping[str, Any]) -> CompanyHit:
        techs = c.get("technology_names") or c.get("technology_slugs") or []
        jobs = c.get("jobs_found") or []
        titles = tuple(dict.fromkeys(str(j.get("job_title")) for j in jobs if isinstance(j, dict)
                                     and j.get("job_title")))
        dates = sorted(str(j.get("date_posted")) for j in jobs if isinstance(j, dict) and j.get("date_posted"))
        count = c.get("employee_count")
        return cls(
            theirstack_id=str(c.get("id") or ""),
            name=str(c.get("name") or ""),
            domain=str(c.get("domain") or ""),
            url=str(c.get("url") or ""),
            linkedin_url=str(c.get("linkedin_url") or ""),
            industry=str(c.get("industry") or ""),
            employee_count=int(count) if isinstance(count, int | float) else None,
            country=str(c.get("country") or ""),
            country_code=str(c.get("country_code") or ""),
            city=str(c.get("city") or ""),
            description=str(c.get("seo_description") or c.get("long_description") or "")[:2000],
            technologies=tuple(str(t) for t in techs if t),
            jobs_last_30_days=c.get("num_jobs_last_30_days") if isinstance(c.get("num_jobs_last_30_days"), int)
            else None,
            hiring_for=titles,
            last_job_posted=dates[-1] if dates else "",
        )


@dataclass(frozen=True)
class SearchPage:
    companies: list[CompanyHit]
    total: int | None
    raw_count: int  # companies in the answer (what the credits are charged on)


@dataclass(frozen=True)
class CreditBalance:
    api_credits: int
    used_api_credits: int

    @property
    def available(self) -> int:
        return max(0, self.api_credits - self.used_api_credits)


@dataclass
class TheirStackStats:
    requests: int = 0
    credits_charged: int = 0
    waits: dict[str, float] = field(default_factory=dict)


def _error_hook(reply: Reply, error: AdapterError) -> AdapterError:
    body = reply.json_or_none()
    err = body.get("error") if isinstance(body, dict) else None
    code = title = description = ""
    if isinstance(err, dict):
        code, title, description = (str(err.get(k) or "") for k in ("code", "title", "description"))
    elif isinstance(body, dict) and body.get("detail"):
        description = str(body.get("detail"))
    words = " — ".join(x for x in (title, description) if x)
    detail = f" ({code}: {words})" if code and words else (f" ({words})" if words else "")
    kw: dict[str, Any] = {"vendor": "theirstack", "status": reply.status,
                          "request_id": str(body.get("request_id") or "") if isinstance(body, dict) else ""}
    text = f"{title} {description}".lower()
    if reply.status == 402 or ("credit" in text and reply.status in (400, 403, 429)):
        return QuotaExhaustedError(f"TheirStack says there are not enough API credits{detail}. Buy credits or lower "
                                   "the number of companies; the companies imported so far are kept.", **kw)
    if reply.status == 401:
        return AuthError(f"TheirStack did not accept the API key{detail}. Paste the key from TheirStack → Settings → "
                         "API key in the TheirStack connection.", **kw)
    if reply.status == 403:
        return AuthError(f"TheirStack refused access{detail}.", **kw)
    if reply.status == 429:
        items = parse_ratelimit(reply.header("ratelimit"))
        waits = [t for _n, r, t in items if r == 0]
        retry = getattr(error, "retry_after", None) or (min(waits) if waits else 1.0)
        return RateLimitedError(f"TheirStack is limiting requests{detail}.", retry_after=retry, **kw)
    if reply.status in (400, 422):
        return ValidationError(f"TheirStack refused the search{detail}.", **kw)
    return error


def _limiters(windows: Mapping[int, int]) -> dict[int, SlidingWindowLimiter]:
    return {w: SlidingWindowLimiter(RateLimit(n, float(w)), name=f"theirstack {n}/{w}s")
            for w, n in sorted(windows.items())}


_SHARED: dict[tuple[str, str, str], dict[int, SlidingWindowLimiter]] = {}


class TheirStackAdapter:
    key: ClassVar[str] = "theirstack"
    name: ClassVar[str] = "TheirStack"

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *, plan: str = "Free", transport: Any = None,
                 retry: RetryPolicy | None = None, limits: Mapping[int, int] | None = None) -> None:
        self.plan = plan if plan in PLAN_LIMITS else "Free"
        windows = dict(limits or PLAN_LIMITS[self.plan])
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if transport is None and limits is None:
            # The limits are TheirStack's per key: every adapter of this key in the process (the free count, one
            # import after another) shares them.
            key = (base, self.plan, hashlib.sha256(api_key.encode()).hexdigest()[:16])
            self.limiters = _SHARED.setdefault(key, _limiters(windows))
        else:
            self.limiters = _limiters(windows)
        first, *others = self.limiters.values()
        self._others = others
        self.client = ApiClient(
            "theirstack", (base_url or DEFAULT_BASE_URL).rstrip("/"), vendor_name="TheirStack",
            auth=bearer_auth(api_key), transport=transport, limiter=first,
            retry=retry or RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30.0, max_wait=120.0),
            error_hook=_error_hook, secrets=[api_key],
        )
        self.stats = TheirStackStats()

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> TheirStackAdapter:
        key = connection.get_secret("api_key") or ""
        if not key:
            raise AuthError("TheirStack is not connected: paste your TheirStack API key in Integrations → TheirStack "
                            "→ Configure.", vendor="theirstack")
        return cls(key, connection.setting("base_url", DEFAULT_BASE_URL), plan=connection.setting("plan", "Free"),
                   transport=transport, **options)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> TheirStackAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, path: str, body: Mapping[str, Any]) -> Reply:
        reply = await self.client.request("POST", path, json=dict(body), idempotent=True,
                                          extra_limiters=self._others)
        self.stats.requests = self.client.requests_sent
        self._observe(reply)
        return reply

    def _observe(self, reply: Reply) -> None:
        """``r=0`` in a window: nothing more may start in it for ``t`` seconds (others may share the key)."""
        by_name = {1: ("second",), 60: ("minute",), 3600: ("hour",), 86400: ("day",)}
        for name, remaining, reset in parse_ratelimit(reply.header("ratelimit")):
            if remaining > 0 or reset <= 0:
                continue
            for window, limiter in self.limiters.items():
                if any(word in name for word in by_name.get(window, ())):
                    limiter.pause(float(reset))

    async def count(self, filters: Mapping[str, Any], *, exclude_domains: Sequence[str] = ()) -> int:
        """How many companies match ``filters`` outside ``exclude_domains`` — free (preview mode, one blurred
        company)."""
        body = {**filters, "blur_company_data": True, "include_total_results": True, "limit": 1, "page": 0}
        if exclude_domains:
            body["company_domain_not"] = list(exclude_domains)
        data = (await self._post("/v1/companies/search", body)).json()
        total = (data.get("metadata") or {}).get("total_results") if isinstance(data, dict) else None
        if not isinstance(total, int):
            raise FatalError("TheirStack's free count answered without a total.", vendor="theirstack")
        return total

    async def search(self, filters: Mapping[str, Any], *, offset: int, limit: int,
                     exclude_domains: Sequence[str] = ()) -> SearchPage:
        """One page of companies (3 credits each), excluding ``exclude_domains``."""
        body: dict[str, Any] = {**filters, "offset": offset, "limit": max(1, min(MAX_PAGE, limit)),
                                "include_total_results": False, "blur_company_data": False}
        if exclude_domains:
            body["company_domain_not"] = list(exclude_domains)
        data = (await self._post("/v1/companies/search", body)).json()
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise FatalError("TheirStack's company search answered without a list of companies.", vendor="theirstack")
        self.stats.credits_charged += CREDITS_PER_COMPANY * len(rows)
        total = (data.get("metadata") or {}).get("total_results")
        return SearchPage([CompanyHit.from_json(r) for r in rows if isinstance(r, dict)],
                          total if isinstance(total, int) else None, len(rows))

    async def credit_balance(self) -> CreditBalance:
        data = (await self.client.request("GET", "/v0/billing/credit-balance")).json()
        if not isinstance(data, dict):
            raise FatalError("TheirStack's credit balance answer was not an object.", vendor="theirstack")
        return CreditBalance(int(data.get("api_credits") or 0), int(data.get("used_api_credits") or 0))

    async def check(self) -> str:
        balance = await self.credit_balance()
        return (f"Connected to TheirStack: {balance.available:,} API credits available. Requests are paced for the "
                f"{self.plan} plan's rate limits, as set in the connection (change Plan there if yours differs).")
