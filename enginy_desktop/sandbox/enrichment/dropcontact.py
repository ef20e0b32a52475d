"""Dropcontact emulator on the kit (https://developer.dropcontact.com; no machine-readable description —
``tests/schemas/dropcontact/*.json`` are written from those pages): a submit-then-poll state machine.

- ``POST /enrich/all`` (``data[]``, at most 250 records; 400 "Too many records…" past it) → ``{request_id,
  credits_left, error: false, success: true}``. One credit per record is **reserved** at submit; when the account
  has not that many left the whole batch is refused with **403**
  (https://developer.dropcontact.com/en/credits/).
- ``GET /enrich/all/{request_id}`` → 200 ``{success: false, reason: "Request not ready yet, try again in 30
  seconds"}`` for the first ``polls_until_ready`` polls (and for unknown ids), then ``{success: true, data[],
  credits_left}``. Pay on success: the credit of a record returned without an e-mail is refunded (a record sent
  with an e-mail to verify keeps its credit) (https://developer.dropcontact.com/en/errors/). A batch's results can
  be fetched again and again for 30 days ("Fetch your results within 30 days: after that, they may no longer be
  available", same page); past that (the emulator's clock) its id answers like an unknown one.
- ``GET /account/credits`` → ``{credits}``.

Auth: the ``X-Access-Token`` header (401 otherwise). 60 requests/s (429 past it). Errors: ``{error: true, reason,
success: false}``. Results: ``email: [{email, qualification}]`` (``nominative@pro``, ``catch_all@pro``…),
``phone``/``mobile_phone``, ``job``, ``linkedin``, ``website``, ``nb_employees``, ``naf5_des``, ``country``.
Coverage: 80 % of people, 60 % of e-mails, 30 % of phones, 75 % of companies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, VendorError, build_app, ok, parse_json
from ..kit.launch import EmulatorSpec, Started, StartOptions, take_options
from . import common
from .common import Credits, EnrichmentSandboxConfig, Person, covers, email_status, int_option, person_for

DEFAULT_KEY = "dropcontact-sandbox-key"
BATCH_MAX = 250
NOT_READY = "Request not ready yet, try again in 30 seconds"
RESULTS_KEPT_S = 30 * 86_400.0  # https://developer.dropcontact.com/en/errors/: "Fetch your results within 30 days"


class DropcontactError(VendorError):
    def payload(self, emulator: Any) -> Any:
        return {"error": True, "reason": self.message, "success": False}


@dataclass
class DropcontactSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(60, 1.0))
    polls_until_ready: int = 1


@dataclass
class Job:
    key: str
    records: list[dict[str, Any]]
    reserved: int
    submitted: float = 0.0  # the emulator's clock at the submit
    polls: int = 0
    results: list[dict[str, Any]] | None = None


class DropcontactEmulator(Emulator):
    vendor = "Dropcontact"

    def __init__(self, config: DropcontactSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.window = RollingWindow(config.rate_limit) if config.rate_limit else None
        self.jobs: dict[str, Job] = {}

    def authenticate(self, request: Any) -> Any:
        key = request.headers.get("x-access-token", "").strip()
        if key not in self.cfg.api_keys:
            raise DropcontactError(401, "Invalid or missing API key (X-Access-Token)")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        if self.window is not None:
            allowed, _left = self.window.try_hit(str(principal), self.cfg.clock())
            if not allowed:
                raise DropcontactError(429, "Too many requests", limited_by="per second")
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 403, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        return DropcontactError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total, "jobs": len(self.jobs)}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.jobs.clear()
        if self.window:
            self.window.reset()

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limit": str(self.cfg.rate_limit) if self.cfg.rate_limit else None,
                "polls_until_ready": self.cfg.polls_until_ready,
                "credits_left": self.credits.left(self.cfg.api_keys[0]) if self.cfg.api_keys else None}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        if "polls_until_ready" in values:
            self.cfg.polls_until_ready = int(values["polls_until_ready"])
        return self.limits_json()

    def finish(self, job: Job) -> None:
        results: list[dict[str, Any]] = []
        refund = 0
        for rec in job.records:
            out, has_email = enrich_record(rec)
            results.append(out)
            if not has_email and not rec.get("email"):
                refund += 1
        self.credits.refund(job.key, refund)
        job.results = results


def enrich_record(rec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    p: Person | None = person_for(first_name=str(rec.get("first_name") or ""),
                                  last_name=str(rec.get("last_name") or ""),
                                  full_name=str(rec.get("full_name") or ""), company=str(rec.get("company") or ""),
                                  domain=str(rec.get("website") or "").split("://")[-1].split("/")[0],
                                  linkedin_url=str(rec.get("linkedin") or ""), email=str(rec.get("email") or ""))
    out: dict[str, Any] = {k: v for k, v in rec.items() if k in ("first_name", "last_name", "full_name", "company",
                                                                   "website", "linkedin", "email")}
    if isinstance(out.get("email"), str):
        given = out.pop("email")
        status = email_status(given)
        out["email"] = [{"email": given, "qualification": {"valid": "nominative@pro", "accept_all": "catch_all@pro",
                                                         "unknown": "nominative@pro", "invalid": "invalid"}[status]}]
    if p is None or not p.findable or not covers("dropcontact", "person", p.key):
        return out, False
    has_email = covers("dropcontact", "email", p.key)
    if has_email and "email" not in out:
        status = email_status(p.email)
        out["email"] = [{"email": p.email,
                         "qualification": "nominative@pro" if status in ("valid", "unknown") else "catch_all@pro"}]
    if covers("dropcontact", "phone", p.key):
        out["mobile_phone" if p.mobile else "phone"] = p.phone
    out.update({"civility": "", "first_name": p.first_name, "last_name": p.last_name, "full_name": p.name,
                "job": p.title, "linkedin": p.linkedin_url})
    if covers("dropcontact", "company", p.key):
        c = p.company
        out.update({"company": c.name, "website": f"https://www.{c.domain}",
                    "nb_employees": f"{max(1, c.employees // 2)}-{c.employees * 2}", "naf5_des": c.industry,
                    "country": c.country})
    return out, has_email


def _em(request: Request) -> DropcontactEmulator:
    em: DropcontactEmulator = request.app.state.sandbox
    return em


async def submit(request: Request) -> Response:
    em = _em(request)
    try:
        body = parse_json(await request.body())
    except ValueError:
        raise DropcontactError(400, "Invalid JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data:
        raise DropcontactError(400, "Missing data in JSON")
    if len(data) > BATCH_MAX:
        raise DropcontactError(400, f"Too many records, you can only submit up to {BATCH_MAX} records")
    key = request.scope["sandbox.token"]
    if em.cfg.faults.credits_exhausted or not em.credits.spend(key, len(data)):
        raise DropcontactError(403, "You don't have enough credits to enrich all the records of this request")
    request_id = uuid.UUID(int=len(em.jobs) + 1 + (em.config.random_seed << 64)).hex
    em.jobs[request_id] = Job(key, [r if isinstance(r, dict) else {} for r in data], len(data), em.cfg.clock())
    return ok({"credits_left": em.credits.left(key), "request_id": request_id, "error": False, "success": True})


async def fetch(request: Request) -> Response:
    em = _em(request)
    job = em.jobs.get(request.path_params["request_id"])
    if job is not None and em.cfg.clock() - job.submitted > RESULTS_KEPT_S:
        job = None  # past the 30 days Dropcontact keeps results: answered like an unknown id
    if job is None or job.key != request.scope["sandbox.token"]:
        return ok({"error": False, "reason": NOT_READY, "success": False})
    if job.results is None:
        job.polls += 1
        force = request.query_params.get("forceResults", "").lower() == "true"
        if job.polls <= em.cfg.polls_until_ready and not force:
            return ok({"error": False, "reason": NOT_READY, "success": False})
        em.finish(job)
    return ok({"data": job.results, "error": False, "success": True, "credits_left": em.credits.left(job.key)})


async def credits(request: Request) -> Response:
    em = _em(request)
    return ok({"credits": em.credits.left(request.scope["sandbox.token"])})


ROUTES = [
    Route("/enrich/all", submit, methods=["POST"]),
    Route("/enrich/all/{request_id}", fetch, methods=["GET"]),
    Route("/account/credits", credits, methods=["GET"]),
]


def create_app(config: DropcontactSandboxConfig | None = None) -> Any:
    return build_app(DropcontactEmulator(config or DropcontactSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(DropcontactSandboxConfig, options, opts, DEFAULT_KEY,
                                 polls_until_ready=int_option(opts, "polls", 1))
    summary = [f"Credits: {config.credits}; rate limit: {config.rate_limit or 'off'}; a batch is ready "
               f"after {config.polls_until_ready} poll(s)",
               "Finds 60 % of e-mails, 30 % of phones, 75 % of companies."]
    return common.key_started("dropcontact", create_app(config), config, summary)


SPEC = EmulatorSpec(key="dropcontact", title="Dropcontact", kind="enrichment",
                    summary="Dropcontact asynchronous batch enrichment (submit, then poll), with credits",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits on the account",
                                           "polls": "polls a batch answers 'not ready' before its results"})
