"""Kaspr emulator on the kit (https://kaspr.stoplight.io/docs/kaspr-api; no machine-readable description is
published — ``tests/schemas/kaspr/*.json`` are written from the shapes in ``apis/enrichment_apis.md`` §6 and
Kaspr's help pages).

- ``POST /profile/linkedin`` ``{"id": <slug>, "name", "dataToGet": ["workEmail", "personalEmail", "phone"]}`` →
  ``{"profile": {"name", "title", "professionalEmails", "personalEmails", "phones", "starryProfessionalEmail",
  "starryPhone"}}``; a full URL instead of the slug, or an unknown ``dataToGet`` name, is refused (Kaspr answers
  500 to those; here 400 with a message); 404 when the profile is unknown;
- ``GET /keys/remainingCredits`` → ``workEmailCredits``, ``directEmailCredits``, ``phoneCredits``,
  ``exportCredits``.

Headers ``Authorization: Bearer <key>`` and ``accept-version: v2.0``. Credits: one of each kind per piece found and
one export credit per lead revealed, **once per lead** (https://help.kaspr.io/en/articles/8865905-what-are-credits);
out of credits: **402**. Limits: 60 requests a minute and a daily allowance of revealed leads (``--option
daily=N``, 500 by default): **429** past either. Coverage: 75 % of people, 55 % of work e-mails, 60 % of phones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, VendorError, build_app, ok
from ..kit.launch import EmulatorSpec, Started, StartOptions, take_options
from . import common
from .common import Credits, EnrichmentSandboxConfig, covers, int_option, person_for

DEFAULT_KEY = "kaspr-sandbox-key"
KINDS = ("workEmail", "personalEmail", "phone")


class KasprError(VendorError):
    def payload(self, emulator: Any) -> Any:
        return {"statusCode": self.status, "message": self.message}


@dataclass
class KasprSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: (RateLimit(60, 60.0),))
    daily_leads: int = 500


class KasprEmulator(Emulator):
    vendor = "Kaspr"

    def __init__(self, config: KasprSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        # One balance per credit kind (work e-mail, direct e-mail, phone, export).
        self.balances = {k: Credits(config.credits) for k in ("work", "direct", "phone", "export")}
        self.windows = [RollingWindow(x) for x in config.rate_limits]
        self.revealed: dict[str, set[str]] = {}  # key -> leads already paid for
        self.today: dict[str, int] = {}

    @property
    def credits(self) -> Credits:
        """The work e-mail balance (what tests set); ``spent_total`` of all kinds is :meth:`spent`."""
        return self.balances["work"]

    def spent(self) -> int:
        return sum(c.spent_total for c in self.balances.values())

    def authenticate(self, request: Any) -> Any:
        key = request.bearer() or request.headers.get("authorization", "").strip()
        if key not in self.cfg.api_keys:
            raise KasprError(401, "Unauthorized: invalid API key")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        now = self.cfg.clock()
        if any(w.remaining(str(principal), now) <= 0 for w in self.windows):
            raise KasprError(429, "Too many requests", headers={"Retry-After": "1"}, limited_by="per minute")
        for w in self.windows:
            w.try_hit(str(principal), now)
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 402, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        return KasprError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.spent()}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        for c in self.balances.values():
            c.reset()
        self.revealed.clear()
        self.today.clear()
        for w in self.windows:
            w.reset()

    def limits_json(self) -> dict[str, Any]:
        key = self.cfg.api_keys[0] if self.cfg.api_keys else ""
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits], "daily_leads": self.cfg.daily_leads,
                "credits_left": {k: c.left(key) for k, c in self.balances.items()}}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                for c in self.balances.values():
                    c.set(key, int(values["credits"]))
        return self.limits_json()


def _em(request: Request) -> KasprEmulator:
    em: KasprEmulator = request.app.state.sandbox
    return em


async def profile_linkedin(request: Request) -> Response:
    em = _em(request)
    key = request.scope["sandbox.token"]
    try:
        body = await request.json()
    except ValueError:
        raise KasprError(400, "The body must be JSON") from None
    slug = str((body or {}).get("id") or "")
    wanted = (body or {}).get("dataToGet") or ["workEmail", "personalEmail", "phone"]
    if not slug or "/" in slug:
        raise KasprError(400, "id must be the LinkedIn profile's slug (not its URL)")
    if not isinstance(wanted, list) or any(w not in KINDS for w in wanted):
        raise KasprError(400, f"dataToGet accepts only {', '.join(KINDS)}")
    p = person_for(linkedin_url=f"https://www.linkedin.com/in/{slug}")
    if p is None or not p.findable or not covers("kaspr", "person", p.key):
        raise KasprError(404, "Profile not found")
    email = p.email if "workEmail" in wanted and covers("kaspr", "email", p.key) else None
    phone = p.phone if "phone" in wanted and covers("kaspr", "phone", p.key) else None
    paid = em.revealed.setdefault(key, set())
    if (email or phone) and p.key not in paid:
        if em.today.get(key, 0) >= em.cfg.daily_leads:
            raise KasprError(429, "Daily limit of revealed leads reached; try again tomorrow",
                             headers={"Retry-After": "86400"})
        need = {"work": int(bool(email)), "phone": int(bool(phone)), "export": 1}
        taken: list[tuple[str, int]] = []
        for kind, n in need.items():
            if not n:
                continue
            if em.cfg.faults.credits_exhausted or not em.balances[kind].spend(key, n):
                for k, m in taken:
                    em.balances[k].refund(key, m)
                raise KasprError(402, f"Not enough {kind} credits")
            taken.append((kind, n))
        paid.add(p.key)
        em.today[key] = em.today.get(key, 0) + 1
    return ok({"profile": {"id": slug, "name": p.name, "title": p.title, "company": p.company.name,
                           "professionalEmails": [email] if email else [], "personalEmails": [],
                           "phones": [phone] if phone else [], "starryProfessionalEmail": email,
                           "starryPhone": phone}})


async def remaining_credits(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    return ok({"workEmailCredits": em.balances["work"].left(key), "directEmailCredits": em.balances["direct"].left(key),
               "phoneCredits": em.balances["phone"].left(key), "exportCredits": em.balances["export"].left(key)})


ROUTES = [
    Route("/profile/linkedin", profile_linkedin, methods=["POST"]),
    Route("/keys/remainingCredits", remaining_credits, methods=["GET"]),
]


def create_app(config: KasprSandboxConfig | None = None) -> Any:
    return build_app(KasprEmulator(config or KasprSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    daily = int_option(opts, "daily", 500)  # leads revealed per day
    config = common.keyed_config(KasprSandboxConfig, options, opts, DEFAULT_KEY, daily_leads=daily)
    summary = [f"Credits: {config.credits} of each kind; {config.daily_leads} leads a day; limits: "
               f"{', '.join(map(str, config.rate_limits)) or 'off'} (429 past them, 402 without credits)",
               "Finds 55 % of work e-mails and 60 % of phones from LinkedIn profile URLs."]
    return common.key_started("kaspr", create_app(config), config, summary)


SPEC = EmulatorSpec(key="kaspr", title="Kaspr", kind="enrichment",
                    summary="Kaspr LinkedIn-profile e-mail and phone lookup, its four credit kinds and daily limit",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits of each kind",
                                           "daily": "leads revealed per day"})
