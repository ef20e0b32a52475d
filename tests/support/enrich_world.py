"""A workspace with a contacts list missing e-mails and phones, and the four enrichment emulators connected.

``world = EnrichWorld.make(ctx, tmp_path, contacts=40)`` imports a CSV of made-up people (names and companies,
some with an e-mail or a phone already), switches on and connects Apollo, Hunter, Lusha and Dropcontact with the
emulators' keys, and gives ``world.factory`` — the adapter of a provider on its in-process emulator
(``httpx.ASGITransport``), with a fast poll for Dropcontact. ``world.apps[key].state.sandbox`` is the emulator (its
credits, its request log).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from enginy_desktop.adapters.base import RateLimit
from enginy_desktop.adapters.enrichment.base import EnrichmentAdapter, adapter_class
from enginy_desktop.adapters.http import RetryPolicy
from enginy_desktop.sandbox.enrichment import (
    apollo,
    cognism,
    datagma,
    dropcontact,
    hunter,
    kaspr,
    lusha,
    proxycurl,
    zoominfo,
)

FIRST = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia", "Edsger", "Frances", "Donald")
LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Berners", "Liskov", "Thompson", "Perlman",
        "Dijkstra", "Allen", "Knuth", "Ritchie", "Kay", "Wirth")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Soylent",
             "Tyrell", "Cyberdyne")
MODULES = {"apollo": apollo, "hunter": hunter, "lusha": lusha, "dropcontact": dropcontact, "proxycurl": proxycurl,
           "kaspr": kaspr, "datagma": datagma, "cognism": cognism,
           "zoominfo": zoominfo}
CONFIGS = {"apollo": apollo.ApolloSandboxConfig, "hunter": hunter.HunterSandboxConfig,
           "lusha": lusha.LushaSandboxConfig, "dropcontact": dropcontact.DropcontactSandboxConfig,
           "proxycurl": proxycurl.ProxycurlSandboxConfig, "kaspr": kaspr.KasprSandboxConfig,
           "datagma": datagma.DatagmaSandboxConfig, "cognism": cognism.CognismSandboxConfig,
           "zoominfo": zoominfo.ZoomInfoSandboxConfig}


def people(n: int, linkedin: bool = False) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)] + (str(i // 180) if i >= 180 else "")
        company = COMPANIES[(i * 7) % len(COMPANIES)]
        rows.append({"First name": first, "Last name": last, "Company": company,
                     "Email": f"{first.lower()}.{last.lower()}@mine.example" if i % 10 == 3 else "",
                     "Phone": "+34 600 000 000" if i % 10 == 4 else ""})
        if linkedin:  # a LinkedIn profile URL on every row (the providers that start from one)
            rows[-1]["LinkedIn URL"] = f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{1000 + i}"
    return rows


def write_csv(path: Path, n: int, linkedin: bool = False) -> Path:
    rows = people(n, linkedin)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@dataclass
class EnrichWorld:
    ctx: Any
    list_id: int
    apps: dict[str, Any]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def make(cls, ctx: Any, tmp: Path, contacts: int = 40, providers: tuple[str, ...] = ("apollo", "hunter", "lusha",
             "dropcontact"), credits: int = 10_000, name: str = "Leads", linkedin: bool = False) -> EnrichWorld:
        from enginy_desktop.core.services.workspace import WorkspaceService

        result = WorkspaceService(ctx.store).import_csv(write_csv(tmp / f"{name}.csv", contacts, linkedin), "contact",
                                                                  name)
        list_id = int(getattr(result, "list_id", 0) or WorkspaceService(ctx.store).get_list(name).id)
        apps: dict[str, Any] = {}
        for key in providers:
            module = MODULES[key]
            apps[key] = module.create_app(CONFIGS[key](credits=credits))
            connect_values = getattr(module, "connect_values", None)  # providers signed in with more than a key
            values = (connect_values(f"https://{key}.test") if connect_values else
                      {"api_key": module.DEFAULT_KEY, "base_url": f"https://{key}.test"})
            ctx.integrations.save_connection(key, values)
            ctx.integrations.enable(key)
        world = cls(ctx, list_id, apps)
        world.options = {"dropcontact": {"poll_every": 0.01, "poll_max": 0.05}}
        if "datagma" in apps:  # its 10 requests a second would make every run here last seconds (tests set windows)
            apps["datagma"].state.sandbox.windows = []
            world.options["datagma"] = {"rate_limit": RateLimit(10_000, 1.0)}
        return world

    def factory(self, key: str) -> EnrichmentAdapter:
        opts = {"retry": RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_wait=1.0),
                **self.options.get(key, {})}
        return adapter_class(key).from_connection(self.ctx.adapters.connection(key),
                                                  transport=httpx.ASGITransport(self.apps[key]), **opts)

    def emulator(self, key: str) -> Any:
        return self.apps[key].state.sandbox

    def credits_spent(self, key: str) -> float:
        em = self.emulator(key)
        spent = em.spent() if hasattr(em, "spent") else em.credits.spent_total  # Kaspr: its four credit kinds
        return spent / 2 if key == "hunter" else float(spent)
