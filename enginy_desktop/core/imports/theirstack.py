"""Import companies from TheirStack into a company list (DESIGN §15), on the shared runs foundation.

1. :func:`plan_import` — the **free count** of companies matching the filters (preview mode costs nothing), the
   domains the target list already holds (excluded from the search, so they are never paid for), and the credits
   the import would spend at most: 3 per company, for at most ``max_companies``, against the account's balance.
2. :func:`run_import` — a run that asks page by page (``offset``/``limit``), excluding the list's domains, and
   writes each page's companies in one transaction with its journal row (``import_pages``). Companies already in
   the workspace (same domain) are added to the list, not duplicated; technologies and hiring signals are kept as
   custom fields (``Technologies``, ``Hiring for``, ``Jobs (30 days)``, ``Last job posted``). Cancel stops between
   pages; a cancelled or interrupted import resumes at the next page with the same exclusions, so no page is paid
   for twice (only a page whose answer never got written — a crash in between — is asked again). Two pages are
   asked at a time, so the import goes as fast as the 4-requests-per-second limit allows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text

from enginy_desktop.adapters.base import AdapterError, QuotaExhaustedError
from enginy_desktop.adapters.sources.theirstack import (
    CREDITS_PER_COMPANY,
    CompanyHit,
    TheirStackAdapter,
)
from enginy_desktop.core.fields import FieldValueError, clean_domain, name_key
from enginy_desktop.core.models import Company, ContactList, ImportPage, ListMembership, utcnow
from enginy_desktop.core.runs import CancelToken, ProgressCallback, ProgressTracker, RunCancelled, RunInfo

log = logging.getLogger(__name__)

__all__ = [
    "IMPORT_COUNTERS",
    "ImportError_",
    "ImportPlan",
    "ImportResult",
    "TheirStackFilters",
    "open_theirstack",
    "plan_import",
    "run_import",
]

IMPORT_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("added", "Added", "good"),
    ("linked", "Already in workspace", ""),
    ("duplicates", "Duplicates", "warning"),
    ("credits", "Credits spent", ""),
)
DEFAULT_MAX = 100
PAGE_SIZE = 100
SOURCE = "TheirStack"


class ImportError_(Exception):  # noqa: N801 - "ImportError" is a builtin
    """A readable refusal of an import (bad filters, wrong list, not connected)."""


@dataclass(frozen=True)
class TheirStackFilters:
    technologies: tuple[str, ...] = ()
    job_titles: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_employees: int | None = None
    max_employees: int | None = None
    posted_within_days: int | None = None

    def problems(self) -> list[str]:
        out = []
        if not any((self.technologies, self.job_titles, self.countries, self.industries,
                    self.min_employees is not None, self.max_employees is not None, self.posted_within_days)):
            out.append("Choose at least one filter (a technology, a job title, a country, an industry, a size or "
                       "a posting date).")
        for value, label in ((self.min_employees, "minimum"), (self.max_employees, "maximum")):
            if value is not None and value < 0:
                out.append(f"The {label} number of employees cannot be negative.")
        if (self.min_employees is not None and self.max_employees is not None
                and self.min_employees > self.max_employees):
            out.append("The minimum number of employees is above the maximum.")
        if self.posted_within_days is not None and not 1 <= self.posted_within_days <= 3650:
            out.append("“Posted within” must be between 1 and 3,650 days.")
        bad = [c for c in self.countries if len(c.strip()) != 2 or not c.strip().isalpha()]
        if bad:
            out.append(f"Countries are two-letter codes (ES, US, GB…): {', '.join(bad)} is not one.")
        return out

    def body(self) -> dict[str, Any]:
        """TheirStack's request filters (docs: company search body)."""
        b: dict[str, Any] = {}
        if self.technologies:
            b["company_technology_slug_or"] = [t.strip().lower() for t in self.technologies]
        if self.job_titles:
            b["job_title_or"] = [t.strip() for t in self.job_titles]
        if self.countries:
            b["company_country_code_or"] = [c.strip().upper() for c in self.countries]
        if self.industries:
            b["industry_or"] = [i.strip() for i in self.industries]
        if self.min_employees is not None:
            b["min_employee_count"] = self.min_employees
        if self.max_employees is not None:
            b["max_employee_count"] = self.max_employees
        if self.posted_within_days:
            b["posted_at_max_age_days"] = self.posted_within_days
        return b

    def as_json(self) -> dict[str, Any]:
        return {"technologies": list(self.technologies), "job_titles": list(self.job_titles),
                "countries": list(self.countries), "industries": list(self.industries),
                "min_employees": self.min_employees, "max_employees": self.max_employees,
                "posted_within_days": self.posted_within_days}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TheirStackFilters:
        return cls(tuple(data.get("technologies") or ()), tuple(data.get("job_titles") or ()),
                   tuple(data.get("countries") or ()), tuple(data.get("industries") or ()),
                   data.get("min_employees"), data.get("max_employees"), data.get("posted_within_days"))

    @property
    def summary(self) -> str:
        parts = []
        if self.technologies:
            parts.append("using " + " or ".join(self.technologies))
        if self.job_titles:
            parts.append("hiring " + " or ".join(self.job_titles))
        if self.posted_within_days:
            parts.append(f"(jobs posted in the last {self.posted_within_days} days)")
        if self.countries:
            parts.append("in " + ", ".join(self.countries))
        if self.industries:
            parts.append("industry " + " or ".join(self.industries))
        if self.min_employees is not None or self.max_employees is not None:
            parts.append(f"{self.min_employees or 0}–{self.max_employees if self.max_employees is not None else '∞'} "
                         "employees")
        return "Companies " + " ".join(parts) if parts else "All companies"


def open_theirstack(ctx: Any, **options: Any) -> TheirStackAdapter:

    info = ctx.integrations.get("theirstack")
    if not info.connected:
        raise ImportError_("TheirStack is not connected. Enginy's subscription credits belong to Enginy's online "
                           "service; in this desktop app, connect your own TheirStack API key in Integrations → "
                           "TheirStack → Configure.")
    if not info.enabled:
        raise ImportError_("TheirStack is connected but turned off: turn it on in Integrations to import companies.")
    return TheirStackAdapter.from_connection(ctx.adapters.connection("theirstack"),
                                             transport=ctx.adapters.transport, **options)


def _norm(domain: str | None) -> str | None:
    if not domain:
        return None
    try:
        return clean_domain(domain)
    except FieldValueError:
        return None


def _target(ctx: Any, list_name: str, *, create: bool) -> tuple[int | None, str]:
    name = list_name.strip()
    if not name:
        raise ImportError_("Name the company list to import into.")
    with ctx.store.session() as s:
        row = s.scalar(select(ContactList).where(ContactList.name == name))
        if row is not None and row.kind != "companies":
            raise ImportError_(f"“{row.name}” is a list of contacts; TheirStack imports companies. Choose a company "
                               "list or a new name.")
        if row is not None:
            return row.id, row.name
    if not create:
        return None, name
    with ctx.store.write() as s:
        row = ContactList(name=name, kind="companies")
        s.add(row)
        s.flush()
        return row.id, row.name


def _list_domains(ctx: Any, list_id: int | None) -> set[str]:
    if list_id is None:
        return set()
    with ctx.store.session() as s:
        raw = s.scalars(text("SELECT c.domain FROM list_memberships m JOIN companies c ON c.id = m.record_id "
                             "WHERE m.list_id = :l AND c.domain IS NOT NULL"), {"l": list_id})
        return {d for d in (_norm(x) for x in raw) if d}


@dataclass(frozen=True)
class ImportPlan:
    filters: TheirStackFilters
    list_name: str
    list_exists: bool
    matching: int  # the free count
    known_domains: int  # in the target list: excluded from the search, never paid for
    max_companies: int
    balance: int | None = None

    @property
    def to_import(self) -> int:
        return min(self.matching, self.max_companies)

    @property
    def credits(self) -> int:
        return CREDITS_PER_COMPANY * self.to_import

    @property
    def enough_credits(self) -> bool:
        return self.balance is None or self.balance >= self.credits

    @property
    def text(self) -> str:
        lines = [f"{self.matching:,} companies match on TheirStack (free count)"
                 + (f", not counting the {self.known_domains:,} domains already in “{self.list_name}”: they are "
                    "excluded from the search, so they are never paid for." if self.known_domains else ".")]
        lines.append(f"Importing at most {self.to_import:,} companies would spend at most {self.credits:,} API "
                     f"credits ({CREDITS_PER_COMPANY} per company returned).")
        if self.balance is not None:
            lines.append(f"Your account has {self.balance:,} API credits"
                         + ("." if self.enough_credits else ": not enough — lower the number of companies."))
        return " ".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"filters": self.filters.as_json(), "list": self.list_name, "matching": self.matching,
                "known_domains": self.known_domains, "max_companies": self.max_companies,
                "to_import": self.to_import, "credits": self.credits, "balance": self.balance}


async def plan_import(ctx: Any, filters: TheirStackFilters, list_name: str, max_companies: int = DEFAULT_MAX, *,
                      adapter: TheirStackAdapter | None = None) -> ImportPlan:
    """The free count and the credits an import would spend; nothing is paid."""
    problems = filters.problems()
    if max_companies < 1:
        problems.append("Import at least one company.")
    if problems:
        raise ImportError_(" ".join(problems))
    list_id, name = _target(ctx, list_name, create=False)
    own = adapter is None
    ts = adapter or open_theirstack(ctx)
    known = sorted(_list_domains(ctx, list_id))
    try:
        matching = await ts.count(filters.body(), exclude_domains=known)  # new companies only: what is paid for
        try:
            balance: int | None = (await ts.credit_balance()).available
        except AdapterError:
            balance = None
    finally:
        if own:
            await ts.aclose()
    return ImportPlan(filters, name, list_id is not None, matching, len(known), max_companies, balance)


@dataclass
class ImportResult:
    run: RunInfo
    counters: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def run_id(self) -> int:
        return self.run.id


def summary_text(c: Mapping[str, Any]) -> str:
    def n(k: str) -> int:
        return int(c.get(k, 0) or 0)

    parts = [f"{n('added'):,} companies added"]
    if n("linked"):
        parts.append(f"{n('linked'):,} already in the workspace added to the list")
    if n("duplicates"):
        parts.append(f"{n('duplicates'):,} duplicates skipped")
    if n("no_domain"):
        parts.append(f"{n('no_domain'):,} without a domain")
    parts.append(f"{n('credits'):,} credits spent")
    return ", ".join(parts)


def _custom(hit: CompanyHit) -> dict[str, Any]:
    out: dict[str, Any] = {"TheirStack ID": hit.theirstack_id}
    if hit.technologies:
        out["Technologies"] = ", ".join(hit.technologies)
    if hit.hiring_for:
        out["Hiring for"] = ", ".join(hit.hiring_for)
    if hit.jobs_last_30_days is not None:
        out["Jobs (30 days)"] = hit.jobs_last_30_days
    if hit.last_job_posted:
        out["Last job posted"] = hit.last_job_posted
    return out


def _write_page(ctx: Any, run_id: int, list_id: int, offset: int, hits: Sequence[CompanyHit], returned: int,
                seen: set[str]) -> dict[str, int]:
    """Companies of one page into the list, with the page's journal row, in one transaction."""
    counts = {"added": 0, "linked": 0, "duplicates": 0, "no_domain": 0}
    ids: list[int] = []
    now = utcnow()
    with ctx.store.write() as s:
        position = int(s.scalar(select(func.coalesce(func.max(ListMembership.position), -1)).where(
            ListMembership.list_id == list_id)) or -1) + 1
        domains = [d for d in (_norm(h.domain) for h in hits) if d]
        existing: dict[str, int] = {}
        for start in range(0, len(domains), 900):
            for cid, dom in s.execute(select(Company.id, Company.domain).where(
                    Company.domain.in_(domains[start:start + 900])).order_by(Company.id)):
                existing.setdefault(dom, cid)
        members = set(s.scalars(select(ListMembership.record_id).where(
            ListMembership.list_id == list_id, ListMembership.record_id.in_(list(existing.values()) or [-1]))))
        for hit in hits:
            domain = _norm(hit.domain)
            if domain is None:
                counts["no_domain"] += 1
            elif domain in seen:
                counts["duplicates"] += 1
                continue
            if domain is not None and domain in existing:
                cid = existing[domain]
                seen.add(domain)
                if cid in members:
                    counts["duplicates"] += 1
                    continue
                counts["linked"] += 1
            else:
                row = Company(name=hit.name or None, name_key=name_key(hit.name), domain=domain,
                              website=hit.url or None, linkedin_url=hit.linkedin_url or None,
                              industry=hit.industry or None, employee_count=hit.employee_count,
                              country=hit.country or hit.country_code or None, city=hit.city or None,
                              description=hit.description or None, source=SOURCE, custom_fields=_custom(hit),
                              created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                cid = row.id
                if domain:
                    seen.add(domain)
                    existing[domain] = cid
                counts["added"] += 1
            s.add(ListMembership(list_id=list_id, record_id=cid, position=position))
            position += 1
            ids.append(cid)
        page = s.scalar(select(ImportPage).where(ImportPage.run_id == run_id, ImportPage.offset == offset))
        assert page is not None
        page.state, page.returned, page.added = "done", returned, counts["added"] + counts["linked"]
        page.duplicates, page.credits = counts["duplicates"], CREDITS_PER_COMPANY * returned
        page.company_ids, page.updated_at = ids, now
        s.execute(text("UPDATE lists SET updated_at = :n WHERE id = :l"), {"n": now, "l": list_id})
    return counts


async def run_import(
    ctx: Any,
    filters: TheirStackFilters | None = None,
    list_name: str = "",
    max_companies: int = DEFAULT_MAX,
    *,
    run_id: int | None = None,
    adapter: TheirStackAdapter | None = None,
    progress: ProgressCallback | None = None,
    token: CancelToken | None = None,
    page_size: int = PAGE_SIZE,
    parallel: int = 2,
    on_start: Any = None,
) -> ImportResult:
    """Import up to ``max_companies`` companies matching ``filters`` into ``list_name`` (created if needed), or
    resume the import run ``run_id``."""
    token = token or CancelToken()
    if run_id is not None:
        info = ctx.runs.get(run_id)
        if info.kind != "import":
            raise ImportError_(f"Run {run_id} is not an import.")
        opts = dict(info.options)
        filters = TheirStackFilters.from_json(opts["filters"])
        max_companies = int(opts["max_companies"])
        page_size = int(opts.get("page_size", page_size))
        if info.list_id is None:
            raise ImportError_("The list of this import was deleted; start a new import.")
        list_id = info.list_id
        info = ctx.runs.resume(run_id)
    else:
        if filters is None:
            raise ImportError_("Choose the filters of the import.")
        problems = filters.problems() + (["Import at least one company."] if max_companies < 1 else [])
        if problems:
            raise ImportError_(" ".join(problems))
        target_id, name = _target(ctx, list_name, create=True)
        assert target_id is not None
        list_id = target_id
        info = ctx.runs.create("import", crm="theirstack", list_id=list_id, list_name=name, start=True,
                               options={"source": "theirstack", "filters": filters.as_json(),
                                        "max_companies": max_companies, "page_size": page_size})
    if on_start is not None:
        on_start(info.id)
    # What this run wrote, and the list's domains before it (the exclusions: the same on a resume, so the pages
    # TheirStack numbers stay the same).
    with ctx.store.session() as s:
        pages = s.scalars(select(ImportPage).where(ImportPage.run_id == info.id).order_by(ImportPage.offset)).all()
        done = [p for p in pages if p.state == "done"]
        todo = [(p.offset, p.size) for p in pages if p.state != "done"]  # asked, never written: asked again
        mine = {cid for p in done for cid in (p.company_ids or [])}
        next_offset = max((p.offset + p.size for p in pages), default=0)
        exhausted = any(p.returned < p.size for p in done)
        imported = sum(p.added for p in done)
        mine_domains = {d for d in (_norm(x) for x in s.scalars(select(Company.domain).where(
            Company.id.in_(list(mine) or [-1])))) if d}
    exclude = sorted(_list_domains(ctx, list_id) - mine_domains)
    seen = set(exclude) | mine_domains
    tracker = ProgressTracker(progress, run_id=info.id)
    tracker.set_counters(**{k: int(v) for k, v in info.counters.items() if k in ("added", "linked", "duplicates",
                                                                                 "credits")})
    tracker.phase("Importing from TheirStack", total=max_companies,
                  message=f"{filters.summary}; {len(exclude):,} known domains excluded")
    tracker.done = imported
    own = adapter is None
    ts = adapter or open_theirstack(ctx)
    try:
        while imported < max_companies and not exhausted:
            token.raise_if_cancelled()
            # Up to ``parallel`` pages at once (the limiter keeps them within TheirStack's limits): pages a resume
            # must ask again first, then the next ones.
            batch: list[tuple[int, int]] = []
            planned = max_companies - imported
            while len(batch) < parallel and planned > 0:
                if todo:
                    batch.append(todo.pop(0))
                else:
                    size = min(page_size, planned)
                    batch.append((next_offset, size))
                    next_offset += size
                planned -= batch[-1][1]
            with ctx.store.write() as s:
                for offset, size in batch:
                    page = s.scalar(select(ImportPage).where(ImportPage.run_id == info.id,
                                                             ImportPage.offset == offset))
                    if page is None:
                        s.add(ImportPage(run_id=info.id, offset=offset, size=size, state="in_flight", returned=0,
                                         added=0, duplicates=0, credits=0, company_ids=[], updated_at=utcnow()))
                    else:
                        page.size, page.state, page.updated_at = size, "in_flight", utcnow()
            results = await asyncio.gather(*(ts.search(filters.body(), offset=o, limit=n, exclude_domains=exclude)
                                             for o, n in batch), return_exceptions=True)
            failure: BaseException | None = None
            for (offset, size), result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    failure = failure or result
                    with ctx.store.write() as s:
                        page = s.scalar(select(ImportPage).where(ImportPage.run_id == info.id,
                                                                 ImportPage.offset == offset))
                        if page is not None:
                            page.state, page.error = "failed", str(result)
                    continue
                counts = _write_page(ctx, info.id, list_id, offset, result.companies, result.raw_count, seen)
                credits = CREDITS_PER_COMPANY * result.raw_count
                ctx.runs.add_counters(info.id, {**counts, "credits": credits, "returned": result.raw_count,
                                                "pages": 1})
                imported += counts["added"] + counts["linked"]
                exhausted = exhausted or result.raw_count < size
                tracker.advance(counts["added"] + counts["linked"], added=counts["added"], linked=counts["linked"],
                                duplicates=counts["duplicates"], credits=credits,
                                message=f"{imported:,} of {max_companies:,} companies")
            if failure is not None:
                raise failure
        tracker.flush()
    except RunCancelled:
        ended = ctx.runs.finish(info.id, "cancelled")
        return ImportResult(ended, dict(ended.counters), "Cancelled: the companies imported so far are kept; resume "
                            "to carry on without paying twice.")
    except QuotaExhaustedError as exc:
        ended = ctx.runs.finish(info.id, "failed", error=str(exc))
        return ImportResult(ended, dict(ended.counters), str(exc))
    except AdapterError as exc:
        ended = ctx.runs.finish(info.id, "failed", error=str(exc))
        return ImportResult(ended, dict(ended.counters), f"{exc} The companies imported so far are kept; resume the "
                            "import to carry on.")
    except BaseException as exc:
        ctx.runs.finish(info.id, "failed", error=f"Unexpected error: {exc}")
        raise
    finally:
        if own:
            await ts.aclose()
    ended = ctx.runs.finish(info.id, "finished", counters={"exhausted": int(exhausted)})
    note = " TheirStack had no more matching companies." if exhausted and imported < max_companies else ""
    return ImportResult(ended, dict(ended.counters), summary_text(ended.counters) + "." + note)


def report_json(ctx: Any, run_id: int) -> dict[str, Any]:
    info = ctx.runs.get(run_id)
    with ctx.store.session() as s:
        pages = [{"offset": p.offset, "size": p.size, "state": p.state, "returned": p.returned, "added": p.added,
                  "duplicates": p.duplicates, "credits": p.credits, "error": p.error}
                 for p in s.scalars(select(ImportPage).where(ImportPage.run_id == run_id).order_by(ImportPage.offset))]
    return {**info.as_json(), "pages": pages, "summary": summary_text(info.counters)}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
