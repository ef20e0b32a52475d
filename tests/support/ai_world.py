"""A workspace for AI-column and TheirStack tests: lists of contacts and companies, and the OpenAI emulator
reached in-process (httpx ``ASGITransport``) through the saved OpenAI connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

from enginy_desktop.core.models import Company, Contact, ContactList, ListMembership
from enginy_desktop.core.services.adapters import AdapterFactory
from enginy_desktop.sandbox.ai.openai import SANDBOX_KEY, OpenAISandbox, OpenAISandboxConfig

INDUSTRIES = ["Software", "Logistics", "Retail", "Banking", "Healthcare", "Education"]
TITLES = ["VP Sales", "Head of Growth", "CTO", "Account Executive", "Founder", "Marketing Manager"]


def add_list(ctx: Any, name: str, kind: str, model: Any, rows: Sequence[dict[str, Any]]) -> tuple[int, list[int]]:
    with ctx.store.write() as s:
        lst = s.scalar(select(ContactList).where(ContactList.name == name))
        if lst is None:
            lst = ContactList(name=name, kind=kind)
            s.add(lst)
            s.flush()
        objs = [model(**r) for r in rows]
        s.add_all(objs)
        s.flush()
        s.add_all(ListMembership(list_id=lst.id, record_id=o.id, position=i) for i, o in enumerate(objs))
        return lst.id, [o.id for o in objs]


def contacts_list(ctx: Any, n: int, *, name: str = "Leads", empty_titles: Sequence[int] = ()) -> tuple[int, list[int]]:
    """``n`` contacts, each with a company (industry, size); the rows in ``empty_titles`` have no job title."""
    _, company_ids = add_list(ctx, name + " companies", "companies", Company, [
        {"name": f"Company {i}", "domain": f"company{i}.com", "industry": INDUSTRIES[i % len(INDUSTRIES)],
         "employee_count": 10 + 37 * i, "country": "Spain"} for i in range(max(1, n // 3))])
    rows = [{"first_name": f"Person{i}", "last_name": "Tester", "full_name": f"Person{i} Tester",
             "email": f"p{i}@company{i % len(company_ids)}.com",
             "job_title": None if i in set(empty_titles) else TITLES[i % len(TITLES)],
             "company_name": f"Company {i % len(company_ids)}", "company_id": company_ids[i % len(company_ids)],
             "country": "Spain"} for i in range(n)]
    return add_list(ctx, name, "contacts", Contact, rows)


def openai_sandbox(ctx: Any, config: OpenAISandboxConfig | None = None, *, style: str = "Chat Completions",
                   base_url: str = "") -> tuple[OpenAISandbox, httpx.ASGITransport]:
    """The emulator, and OpenAI connected to it (enabled) with the sandbox key."""
    sandbox = OpenAISandbox(config)
    values = {"api_key": SANDBOX_KEY, "api_style": style}
    if base_url:
        values["base_url"] = base_url
    ctx.integrations.save_connection("openai", values)
    ctx.integrations.enable("openai")
    transport = httpx.ASGITransport(app=sandbox.app)
    ctx.adapters = AdapterFactory(ctx, transport=transport)  # every adapter the engines open talks to the emulator
    return sandbox, transport


def custom_values(ctx: Any, model: Any, ids: Sequence[int], name: str) -> dict[int, Any]:
    with ctx.store.session() as s:
        return {r.id: (r.custom_fields or {}).get(name) for r in s.scalars(select(model).where(model.id.in_(ids)))}
