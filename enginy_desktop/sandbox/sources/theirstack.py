"""A local emulator of TheirStack's company search (DESIGN §9; ``apis/enrichment_apis.md`` §12).

Shapes and rules from TheirStack's documentation (the JSON Schemas in ``tests/contracts/theirstack/`` cite the
pages):

- ``POST /v1/companies/search`` with the filters Enginy uses — ``company_technology_slug_or``, ``job_title_or``,
  ``posted_at_max_age_days``, ``company_country_code_or``, ``min_employee_count`` / ``max_employee_count``,
  ``industry_or``, ``company_domain_not`` / ``company_domain_or`` — paged by ``page`` or ``offset`` and ``limit``
  (``limit`` ≥ 1, else 422), ``include_total_results`` filling ``metadata.total_results``.
- Preview mode (``blur_company_data``): names, domains, URLs and descriptions blurred, no credits charged; refused
  with company identifier filters (``company_domain_or``, ``company_name_or``, ``company_id_or``,
  ``company_linkedin_url_or``).
- Credits: 3 API credits per company returned; ``GET /v0/billing/credit-balance``. Not enough credits for an answer:
  402 with the error envelope (TheirStack does not document this case; the emulator's choice).
- Limits per key as sliding windows — Free plan 4/second, 10/minute, 50/hour, 400/day; paid 4/second — in
  ``RateLimit`` / ``RateLimit-Policy`` (IETF draft) and ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` headers,
  429 when exceeded.
- Errors: ``{"request_id": …, "error": {"code": "E-…", "title": …, "description": …}}``.
- Built on the sandbox kit: the gateway's faults (latency, 5xx, hangs, drops, ``credits=exhausted``), request log and
  control API (``/__sandbox__/state`` counts searches, credits and 429s; ``/__sandbox__/rate-limit`` changes the
  plan and the credits); ``enginy-desktop sandbox --integration theirstack``.

The data set is deterministic (``seed``): ``companies`` made-up companies with domains, industries, countries,
sizes, technologies and recent job posts.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..kit import Emulator, EmulatorApp, EmulatorConfig, ErrorKind, GatewayRequest, VendorError, build_app
from ..kit.launch import EmulatorSpec, Started, StartOptions, connect_commands, take_options

__all__ = ["SANDBOX_KEY", "SPEC", "TheirStackError", "TheirStackSandbox", "TheirStackSandboxConfig", "create_app"]

SANDBOX_KEY = "ts-sandbox-enginy-local-0000"
CREDITS_PER_COMPANY = 3
PLAN_WINDOWS = {"free": ((1, 4, "per-second"), (60, 10, "per-minute"), (3600, 50, "per-hour"),
                         (86400, 400, "per-day")),
                "paid": ((1, 4, "per-second"),)}

TECHS = [("python", "Python"), ("react", "React"), ("snowflake", "Snowflake"), ("hubspot", "HubSpot"),
         ("salesforce", "Salesforce"), ("kubernetes", "Kubernetes"), ("aws", "Amazon Web Services"),
         ("postgresql", "PostgreSQL"), ("shopify", "Shopify"), ("tableau", "Tableau"), ("go", "Go"),
         ("dbt", "dbt")]
INDUSTRIES = ["Software Development", "Financial Services", "Retail", "Logistics", "Hospital & Health Care",
              "Marketing Services", "Manufacturing", "Education"]
COUNTRIES = [("ES", "Spain"), ("US", "United States"), ("GB", "United Kingdom"), ("DE", "Germany"),
             ("FR", "France"), ("NL", "Netherlands")]
TITLES = ["Data Engineer", "Account Executive", "Sales Development Representative", "Backend Engineer",
          "Head of Sales", "Marketing Manager", "DevOps Engineer", "Customer Success Manager"]
SYLLABLES = ["ac", "me", "no", "va", "lu", "mi", "ra", "to", "zen", "qua", "bri", "tel", "on", "sol", "dex", "ka"]
SUFFIXES = [".com", ".io", ".es", ".co", ".ai", ".de"]


class TheirStackError(VendorError):
    """TheirStack's error envelope: ``{"request_id", "error": {"code", "title", "description"}}``."""

    def __init__(self, status: int, code: str, title: str, description: str, *,
                 headers: dict[str, str] | None = None, limited_by: str | None = None) -> None:
        super().__init__(status, description, headers=headers, limited_by=limited_by)
        self.code, self.title = code, title

    def payload(self, emulator: Any) -> Any:
        return {"request_id": str(uuid.uuid4()),
                "error": {"code": self.code, "title": self.title, "description": self.message}}


@dataclass
class TheirStackSandboxConfig(EmulatorConfig):
    api_key: str = SANDBOX_KEY
    companies: int = 2000
    seed: int = 7
    plan: str = "paid"  # free | paid
    api_credits: int = 100_000
    fail_every: int = 0  # every Nth search answers 503 (0: never)


@dataclass
class _Stats:
    requests: int = 0
    searches: int = 0
    free_counts: int = 0
    companies_returned: int = 0
    credits_charged: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    excluded_domains_max: int = 0
    by_window: dict[str, int] = field(default_factory=dict)


def _h(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _dataset(n: int, seed: int) -> list[dict[str, Any]]:
    today = date(2026, 12, 1)
    out = []
    for i in range(n):
        h = _h(seed, i)
        name_core = "".join(SYLLABLES[(h >> (4 * k)) % len(SYLLABLES)] for k in range(2 + h % 2)).capitalize()
        name = f"{name_core} {['Labs', 'Systems', 'Group', 'Analytics', 'Logistics', 'Health'][h % 6]}"
        domain = f"{name_core.lower()}{i}{SUFFIXES[(h >> 9) % len(SUFFIXES)]}"
        cc, country = COUNTRIES[(h >> 13) % len(COUNTRIES)]
        techs = sorted({TECHS[(h >> (17 + 3 * k)) % len(TECHS)] for k in range(2 + (h >> 40) % 3)})
        jobs = []
        for k in range((h >> 44) % 4):
            jh = _h(seed, i, "job", k)
            posted = today - timedelta(days=int(jh % 90))
            jobs.append({"job_title": TITLES[jh % len(TITLES)], "date_posted": posted.isoformat()})
        out.append({
            "id": f"ts-{seed}-{i:06d}",
            "name": name,
            "domain": domain,
            "url": f"https://www.{domain}",
            "linkedin_url": f"https://www.linkedin.com/company/{name_core.lower()}-{i}",
            "country_code": cc,
            "country": country,
            "industry": INDUSTRIES[(h >> 21) % len(INDUSTRIES)],
            "employee_count": 5 + int((h >> 25) % 5000),
            "seo_description": f"{name} builds products for {INDUSTRIES[(h >> 21) % len(INDUSTRIES)].lower()} teams.",
            "technology_slugs": [t[0] for t in techs],
            "technology_names": [t[1] for t in techs],
            "num_jobs": len(jobs) + int((h >> 50) % 20),
            "num_jobs_last_30_days": sum(1 for j in jobs if (today - date.fromisoformat(j["date_posted"])).days <= 30),
            "_jobs": jobs,
        })
    return out


def _blur(text: str) -> str:
    return "".join("*" if ch.isalnum() else ch for ch in text)


class TheirStackSandbox(Emulator):
    """The emulator, on the sandbox kit (gateway, faults, request log, control API). ``app`` is its ASGI app."""

    vendor = "TheirStack"
    config: TheirStackSandboxConfig

    def __init__(self, config: TheirStackSandboxConfig | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(config or TheirStackSandboxConfig())
        self.clock: Callable[[], float] = clock or self.config.clock
        self.stats = _Stats()
        self.companies = _dataset(self.config.companies, self.config.seed)
        self.used_credits = 0
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.app: EmulatorApp = build_app(self, [
            Route("/v1/companies/search", self.search, methods=["POST"]),
            Route("/v0/billing/credit-balance", self.balance, methods=["GET"]),
        ])

    # -- the kit's hooks ------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> Any:
        if request.bearer() != self.config.api_key:
            raise TheirStackError(401, "E-001", "Unauthorized", "Invalid or missing API key.")
        return request.bearer()

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        """The search endpoints' sliding windows (TheirStack's rate-limit page); the RateLimit headers go on every
        answer of them."""
        if request.path != "/v1/companies/search":
            return {}
        with self._lock:
            allowed, headers = self._admit(str(principal))
        if not allowed:
            self.stats.rate_limited += 1
            window = next((n for n, r in _items(headers["RateLimit"]) if r == 0), "per-second")
            raise TheirStackError(429, "E-002", "Too Many Requests", "Rate limit exceeded. Try again later.",
                                  headers=headers, limited_by=window)
        return headers

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        if kind in ("unauthorized", "expired_token"):
            return TheirStackError(401, "E-001", "Unauthorized", message)
        if kind == "credits_exhausted":
            return TheirStackError(402, "E-004", "Payment Required", "Not enough API credits.")
        if kind in ("rate_limited", "budget_exhausted"):
            return TheirStackError(429, "E-002", "Too Many Requests", message)
        if kind in ("server_error", "gateway_timeout"):
            code = status or (504 if kind == "gateway_timeout" else 503)
            return TheirStackError(code, "E-500", "Service Unavailable", "Temporary problem; try again.")
        default = {"too_large": 413, "bad_request": 422, "not_found": 404, "method_not_allowed": 405}.get(kind, 400)
        return TheirStackError(status or default, "E-003", "Request refused", message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), **{k: v for k, v in asdict(self.stats).items() if isinstance(v, int)},
                "companies": len(self.companies), "used_credits": self.used_credits}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.stats = _Stats()
        self.used_credits = 0
        self._calls.clear()

    def limits_json(self) -> dict[str, Any]:
        return {"plan": self.config.plan, "api_credits": self.config.api_credits,
                "windows": [{"policy": n, "limit": q, "window_s": w} for w, q, n in self._windows()]}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            if name == "plan" and value in PLAN_WINDOWS:
                self.config.plan = value
            elif name == "api_credits" and isinstance(value, int):
                self.config.api_credits = value
            else:
                raise ValueError(f"The TheirStack sandbox has no limit '{name}' with that value.")
        return self.limits_json()

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _error(self, status: int, code: str, title: str, description: str,
               headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"request_id": str(uuid.uuid4()), "error": {"code": code, "title": title,
                                                                        "description": description}},
                            status_code=status, headers=headers)


    def _windows(self) -> tuple[tuple[int, int, str], ...]:
        return PLAN_WINDOWS.get(self.config.plan, PLAN_WINDOWS["paid"])

    def _admit(self, key: str) -> tuple[bool, dict[str, str]]:
        """Count the call in every window; False (and the headers) when one of them is full."""
        now = self.clock()
        calls = self._calls.setdefault(key, deque())
        longest = max(w for w, _n, _name in self._windows())
        while calls and calls[0] <= now - longest:
            calls.popleft()
        status = []
        allowed = True
        for window, limit, name in self._windows():
            inside = [t for t in calls if t > now - window]
            used = len(inside)
            reset = int(window - (now - inside[0])) + 1 if inside else window
            if used >= limit:
                allowed = False
                self.stats.by_window[name] = self.stats.by_window.get(name, 0) + 1
            status.append((name, limit, window, used, min(reset, window)))
        if allowed:
            calls.append(now)
        items = []
        for name, limit, window, used, reset in status:
            remaining = max(0, limit - used - (1 if allowed else 0))
            items.append((name, limit, window, remaining, reset))
        headers = {
            "RateLimit": ", ".join(f'"{n}";r={r};t={t}' for n, _l, _w, r, t in items),
            "RateLimit-Policy": ", ".join(f'"{n}";q={q};w={w}' for n, q, w, _r, _t in items),
            "RateLimit-Limit": ", ".join(str(q) for _n, q, _w, _r, _t in items),
            "RateLimit-Remaining": ", ".join(str(r) for _n, _q, _w, r, _t in items),
            "RateLimit-Reset": ", ".join(str(t) for _n, _q, _w, _r, t in items),
        }
        if not allowed:
            headers["Retry-After"] = str(min(t for _n, _q, _w, r, t in items if r == 0))
        return allowed, headers

    # -- routes ---------------------------------------------------------------------------------------------------
    async def search(self, request: Request) -> Response:
        self.stats.requests += 1
        headers: dict[str, str] = {}  # the gateway adds the RateLimit headers
        try:
            body = await request.json()
        except ValueError:
            return self._error(422, "E-003", "Unprocessable Entity", "The body is not valid JSON.", headers)
        if not isinstance(body, dict):
            return self._error(422, "E-003", "Unprocessable Entity", "The body must be an object.", headers)
        limit = body.get("limit", 25)
        if not isinstance(limit, int) or limit < 1 or limit > 500:
            return self._error(422, "E-003", "Unprocessable Entity",
                               "limit: Input should be greater than or equal to 1 and at most 500.", headers)
        blur = bool(body.get("blur_company_data"))
        identifiers = [k for k in ("company_domain_or", "company_name_or", "company_id_or", "company_linkedin_url_or")
                       if body.get(k)]
        if blur and identifiers:
            return self._error(422, "E-003", "Unprocessable Entity", "Preview mode (blur_company_data) is not "
                               f"available when filtering by company identifiers ({identifiers[0]}).", headers)
        self.stats.searches += 1
        if self.config.fail_every and self.stats.searches % self.config.fail_every == 0:
            self.stats.server_errors += 1
            return self._error(503, "E-500", "Service Unavailable", "Temporary problem; try again.", headers)
        matches = self._filter(body)
        offset = body.get("offset")
        if not isinstance(offset, int):
            page = body.get("page", 0)
            offset = (page if isinstance(page, int) and page >= 0 else 0) * limit
        chosen = matches[offset:offset + limit]
        charge = 0 if blur else CREDITS_PER_COMPANY * len(chosen)
        with self._lock:
            if charge and (self.config.faults.credits_exhausted
                           or self.config.api_credits - self.used_credits < charge):
                return self._error(402, "E-004", "Payment Required",
                                   f"Not enough API credits: this answer costs {charge}, "
                                   f"{max(0, self.config.api_credits - self.used_credits)} left.", headers)
            self.used_credits += charge
            self.stats.credits_charged += charge
        if blur:
            self.stats.free_counts += 1
        else:
            self.stats.companies_returned += len(chosen)
        self.stats.excluded_domains_max = max(self.stats.excluded_domains_max,
                                              len(body.get("company_domain_not") or []))
        total = len(matches) if body.get("include_total_results") else None
        data = [self._public(c, body, blur) for c in chosen]
        return JSONResponse({"metadata": {"total_results": total, "truncated_results": 0,
                                          "truncated_companies": 0, "total_companies": total},
                             "data": data}, headers=headers)

    def _filter(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        def low(key: str) -> set[str]:
            return {str(x).strip().lower() for x in (body.get(key) or []) if str(x).strip()}

        techs, techs_and = low("company_technology_slug_or"), low("company_technology_slug_and")
        countries = {x.upper() for x in low("company_country_code_or")}
        industries = low("industry_or")
        titles = low("job_title_or")
        domains_not, domains_or = low("company_domain_not"), low("company_domain_or")
        names = low("company_name_case_insensitive_or")
        lo, hi = body.get("min_employee_count"), body.get("max_employee_count")
        max_age = body.get("posted_at_max_age_days")
        today = date(2026, 12, 1)
        out = []
        for c in self.companies:
            slugs = set(c["technology_slugs"])
            if techs and not (techs & slugs):
                continue
            if techs_and and not techs_and <= slugs:
                continue
            if countries and c["country_code"] not in countries:
                continue
            if industries and c["industry"].lower() not in industries:
                continue
            if isinstance(lo, int) and c["employee_count"] < lo:
                continue
            if isinstance(hi, int) and c["employee_count"] > hi:
                continue
            if c["domain"] in domains_not or (domains_or and c["domain"] not in domains_or):
                continue
            if names and c["name"].lower() not in names:
                continue
            if titles or isinstance(max_age, int):
                jobs = [j for j in c["_jobs"]
                        if (not titles or any(t in j["job_title"].lower() for t in titles))
                        and (not isinstance(max_age, int)
                             or (today - date.fromisoformat(j["date_posted"])).days <= max_age)]
                if not jobs:
                    continue
            out.append(c)
        return out

    def _public(self, c: dict[str, Any], body: dict[str, Any], blur: bool) -> dict[str, Any]:
        titles = {str(x).strip().lower() for x in (body.get("job_title_or") or [])}
        max_age = body.get("posted_at_max_age_days")
        today = date(2026, 12, 1)
        jobs = [j for j in c["_jobs"] if (not titles or any(t in j["job_title"].lower() for t in titles))
                and (not isinstance(max_age, int) or (today - date.fromisoformat(j["date_posted"])).days <= max_age)]
        out = {k: v for k, v in c.items() if not k.startswith("_")}
        out["jobs_found"] = jobs if (titles or isinstance(max_age, int)) else []
        if blur:
            for k in ("name", "domain", "url", "linkedin_url", "seo_description"):
                out[k] = _blur(str(out[k]))
        return out

    async def balance(self, request: Request) -> Response:
        return JSONResponse({"ui_credits": 0, "used_ui_credits": 0, "api_credits": self.config.api_credits,
                             "used_api_credits": self.used_credits})

def _items(value: str) -> list[tuple[str, int]]:
    out = []
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        remaining = next((int(p[2:]) for p in parts if p.startswith("r=")), 1)
        out.append((parts[0].strip('"'), remaining))
    return out


def create_app(config: TheirStackSandboxConfig | None = None) -> EmulatorApp:
    """The ASGI app (``app.state.sandbox`` is the :class:`TheirStackSandbox`)."""
    return TheirStackSandbox(config).app


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = TheirStackSandboxConfig(random_seed=options.random_seed, faults=options.faults,
                                     control_token=options.control_token, api_key=opts.get("key", SANDBOX_KEY),
                                     companies=options.seed or int(opts.get("companies", 2000)),
                                     plan=opts.get("plan", "paid"),
                                     api_credits=int(opts.get("credits", 100_000)))
    if config.plan not in PLAN_WINDOWS:
        from ..kit.launch import OptionError

        raise OptionError("plan must be free or paid")
    sandbox = TheirStackSandbox(config)
    windows = ", ".join(f"{q}/{n.removeprefix('per-')}" for _w, q, n in sandbox._windows())
    return Started(app=sandbox.app, credentials={"API key": config.api_key},
                   summary=[f"Companies: {config.companies:,}; API credits: {config.api_credits:,} (3 per company)",
                            f"Plan: {config.plan} ({windows})"],
                   connect=lambda url: connect_commands("theirstack", {"base_url": url}, "api_key", config.api_key))


SPEC = EmulatorSpec(key="theirstack", title="TheirStack", kind="source",
                    summary="TheirStack company search: filters, free count (blur preview), 3 credits per company, "
                            "RateLimit headers",
                    start=_start,
                    options={"key": "the API key it accepts", "companies": "companies in the data set (default 2000)",
                             "plan": "free (4/s, 10/min, 50/h, 400/day) or paid (4/s; default)",
                             "credits": "API credits on the account (default 100000)"})
