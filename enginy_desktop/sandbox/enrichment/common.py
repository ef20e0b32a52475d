"""What the enrichment emulators share: a made-up, deterministic world of people and companies, each provider's
coverage of it, and credits.

**The world.** A person is identified by what a lookup gives: a name and a company (name or domain), a LinkedIn
URL, or an e-mail. :func:`person_for` turns those inputs into one :class:`Person` — the same inputs always give the
same person, and the same person the same values (e-mail ``first.last@domain``, phone, title, LinkedIn, location,
company industry / size / revenue) whichever provider is asked.

**Coverage (the documented share of misses).** Each provider knows a share of the world, per data point:
:func:`covers` hashes (provider, data point, person) to a number from 0 to 99 and compares it with the provider's
coverage percentage (:data:`COVERAGE`). So Hunter finds the e-mails of 60 % of people, Lusha 65 % and Apollo 70 %,
each a different 60–70 % — which is why asking a second provider for what the first missed finds more. A name
starting with ``Nobody`` is never found by anyone (for tests).

**Credits.** :class:`Credits` is a balance that never refills (``--option credits=N``), counted in the vendor's
smallest unit (Hunter's half credits are counted as 1 = 0.5 credit). :class:`Revealed` remembers what an account
already paid for, for the vendors that do not charge a repeated lookup (Apollo's net-new rule, Lusha's 30 days).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..kit import EmulatorApp, EmulatorConfig, GatewayRequest, RateLimit
from ..kit.launch import Started, StartOptions, secret_started

COVERAGE: dict[str, dict[str, int]] = {
    "apollo": {"person": 75, "email": 70, "phone": 0, "company": 90},
    "hunter": {"person": 80, "email": 60, "phone": 10, "company": 85},
    "lusha": {"person": 75, "email": 65, "phone": 55, "company": 80},
    "dropcontact": {"person": 80, "email": 60, "phone": 30, "company": 75},
    "proxycurl": {"person": 80, "email": 55, "phone": 35, "company": 85},
    "kaspr": {"person": 75, "email": 55, "phone": 60, "company": 0},
    "datagma": {"person": 75, "email": 60, "phone": 45, "company": 85},
    "cognism": {"person": 80, "email": 70, "phone": 60, "company": 90},
    "zoominfo": {"person": 85, "email": 75, "phone": 65, "company": 90},
}

_TITLES = ("Head of Sales", "VP Marketing", "Sales Operations Manager", "Account Executive", "CTO", "Founder & CEO",
           "Revenue Operations Lead", "Growth Manager", "Customer Success Director", "Data Engineer")
_INDUSTRIES = ("Computer Software", "Information Technology & Services", "Marketing & Advertising",
               "Financial Services",
               "Hospital & Health Care", "Retail", "Logistics & Supply Chain", "Real Estate")
_CITIES = (("San Francisco", "California", "United States"), ("New York", "New York", "United States"),
           ("London", "England", "United Kingdom"), ("Paris", "Île-de-France", "France"),
           ("Berlin", "Berlin", "Germany"), ("Barcelona", "Catalonia", "Spain"), ("Toronto", "Ontario", "Canada"))
_SIZES = (8, 35, 120, 340, 780, 2400, 7600, 15000)
_REVENUES = ((1_000_000, "1M"), (5_000_000, "5M"), (20_000_000, "20M"), (75_000_000, "75M"), (250_000_000, "250M"),
             (1_000_000_000, "1B"))


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    domain: str
    industry: str
    employees: int
    revenue: int
    revenue_printed: str
    city: str
    state: str
    country: str


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    first_name: str
    last_name: str
    email: str
    phone: str
    mobile: bool
    title: str
    linkedin_url: str
    city: str
    state: str
    country: str
    company: Company
    findable: bool = True

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def company_for(name: str = "", domain: str = "") -> Company | None:
    domain = domain.strip().lower().removeprefix("www.")
    if not domain and name.strip():
        domain = (slug(name) or "company") + ".com"
    if not domain:
        return None
    base = domain.split(".")[0]
    h = _h("company", domain)
    city = _CITIES[h % len(_CITIES)]
    revenue, printed = _REVENUES[(h >> 8) % len(_REVENUES)]
    return Company(name=name.strip() or base.capitalize(), domain=domain,
                   industry=_INDUSTRIES[(h >> 4) % len(_INDUSTRIES)],
                   employees=_SIZES[(h >> 12) % len(_SIZES)], revenue=revenue, revenue_printed=printed,
                   city=city[0], state=city[1], country=city[2])


def person_for(*, first_name: str = "", last_name: str = "", full_name: str = "", company: str = "", domain: str = "",
               linkedin_url: str = "", email: str = "") -> Person | None:
    """The person these inputs point at, or None when they are not enough to point at anyone."""
    first, last = first_name.strip(), last_name.strip()
    if not (first or last) and full_name.strip():
        parts = full_name.split()
        first, last = parts[0], " ".join(parts[1:])
    email = email.strip().lower()
    if email and "@" in email and not (first and last):
        local, _, mail_domain = email.partition("@")
        bits = [b for b in re.split(r"[._-]", local) if b]
        first, last = (bits[0].capitalize(), " ".join(bits[1:]).capitalize()) if len(bits) > 1 else (local, "")
        domain = domain or mail_domain
    handle = ""
    if linkedin_url:
        handle = linkedin_url.rstrip("/").rsplit("/", 1)[-1].lower()
        if not (first and last):
            bits = [b for b in handle.split("-") if b and not b.isdigit()]
            if len(bits) >= 2:
                first, last = bits[0].capitalize(), bits[1].capitalize()
    if not (first and last):
        return None
    org = company_for(company, domain) or company_for("", f"{slug(last)}-holdings.com")
    assert org is not None
    key = f"{slug(first)}|{slug(last)}|{org.domain}"
    h = _h("person", key)
    city = _CITIES[(h >> 20) % len(_CITIES)]
    findable = not first.casefold().startswith("nobody")
    return Person(
        key=key, first_name=first, last_name=last,
        email=email or f"{slug(first)}.{slug(last)}@{org.domain}",
        phone=f"+1 415 555 {h % 10000:04d}", mobile=bool(h & 1),
        title=_TITLES[(h >> 4) % len(_TITLES)],
        linkedin_url=f"https://www.linkedin.com/in/{handle or f'{slug(first)}-{slug(last)}-{h % 9000 + 1000}'}",
        city=city[0], state=city[1], country=city[2], company=org, findable=findable,
    )


def covers(provider: str, what: str, key: str) -> bool:
    """Whether ``provider`` knows ``what`` ("person", "email", "phone", "company") of ``key`` (deterministic)."""
    if key.startswith("nobody"):
        return False
    return _h(provider, what, key) % 100 < COVERAGE[provider][what]


def email_status(email: str) -> str:
    """A deliverability verdict for an address: mostly valid, some accept-all, a few invalid (deterministic)."""
    n = _h("verify", email.lower()) % 100
    if n < 78:
        return "valid"
    if n < 92:
        return "accept_all"
    if n < 97:
        return "unknown"
    return "invalid"


class Credits:
    """A balance per API key that never refills; thread-safe (the benchmark serves from another thread)."""

    def __init__(self, balance: int) -> None:
        self.initial = balance
        self._left: dict[str, int] = {}
        self._lock = threading.Lock()
        self.spent_total = 0

    def left(self, key: str) -> int:
        with self._lock:
            return self._left.get(key, self.initial)

    def spend(self, key: str, units: int) -> bool:
        """Take ``units`` if that many are left (all or nothing)."""
        with self._lock:
            left = self._left.get(key, self.initial)
            if units > left:
                return False
            self._left[key] = left - units
            self.spent_total += units
            return True

    def refund(self, key: str, units: int) -> None:
        with self._lock:
            self._left[key] = self._left.get(key, self.initial) + units
            self.spent_total -= units

    def set(self, key: str, balance: int) -> None:
        with self._lock:
            self._left[key] = balance

    def reset(self) -> None:
        with self._lock:
            self._left.clear()
            self.spent_total = 0


class Revealed:
    """What each API key already paid for: a vendor that does not charge a repeated lookup of the same record
    within ``window`` seconds (None: ever) charges only :meth:`fresh` records, then :meth:`mark` s them."""

    def __init__(self, window: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.clock = clock
        self._paid: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def fresh(self, key: str, items: Iterable[str]) -> list[str]:
        """The items (in order, without repeats) not paid for by ``key`` within the window."""
        now = self.clock()
        out: list[str] = []
        with self._lock:
            for item in items:
                when = self._paid.get((key, item))
                if item not in out and (when is None or (self.window is not None and now - when > self.window)):
                    out.append(item)
        return out

    def mark(self, key: str, items: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for item in items:
                self._paid[(key, item)] = now

    def clear(self) -> None:
        with self._lock:
            self._paid.clear()


@dataclass
class EnrichmentSandboxConfig(EmulatorConfig):
    api_keys: tuple[str, ...] = ()
    credits: int = 10_000

    def use_rate_limit(self, limit: RateLimit | None) -> None:
        """``--rate-limit``: this one limit instead of the vendor's (None: no limit), whether the emulator has one
        limit (``rate_limit``) or several (``rate_limits``)."""
        several = hasattr(self, "rate_limits")
        setattr(self, "rate_limits" if several else "rate_limit", ((limit,) if limit else ()) if several else limit)


C = TypeVar("C", bound=EnrichmentSandboxConfig)


def keyed_config(cls: type[C], options: StartOptions, opts: Mapping[str, str], default_key: str, **fields: Any) -> C:
    """The configuration the ``sandbox`` command asks for, for an emulator of an API-key enrichment API: the key it
    accepts (``--option key=``), its credits (``--option credits=``, default 10,000), the command's seed, faults and
    control token, and ``--rate-limit`` as its only limit when given."""
    config = cls(api_keys=(opts.get("key", default_key),), credits=int_option(dict(opts), "credits", 10_000),
                 **options.common(), **fields)
    if options.rate_limit != "default":
        config.use_rate_limit(options.rate_limit)
    return config


def key_started(key: str, app: EmulatorApp, config: EnrichmentSandboxConfig, summary: list[str],
                label: str = "API key") -> Started:
    """What the command prints for such an emulator: its key and the commands that connect Enginy Desktop to it."""
    return secret_started(app, key, summary, label=label, field="api_key", secret=config.api_keys[0], demo=False)


def header_or_query(request: GatewayRequest, header: str, query: str = "") -> str:
    value = request.headers.get(header.lower(), "")
    if not value and query:
        value = request.query_param(query) or ""
    return value.strip()


def int_option(options: dict[str, str], name: str, default: int) -> int:
    raw = options.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"--option {name} must be a whole number, got '{raw}'") from None
    if value < 0:
        raise ValueError(f"--option {name} cannot be negative")
    return value


def stable_id(text: str, digits: int = 8) -> int:
    """A number derived from ``text`` that is the same in every process (unlike ``hash``)."""
    return _h("id", text) % 10**digits
