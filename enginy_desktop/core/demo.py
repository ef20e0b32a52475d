"""Demo mode: a throw-away workspace with sample data and a CRM connected to a local emulator.

``enginy-desktop --demo [--crm KEY]`` uses it so a newcomer can try the wizard, a sync and an export without any
account. The caller starts the CRM's emulator (``enginy_desktop.demo``; the core never imports the sandbox) and
passes its connection settings; this module builds the workspace in a temporary folder (deleted when the demo
ends), connects the CRM, writes a starting configuration from the CRM's own fields and puts some of the sample
people in the CRM through its adapter, so a sync finds matches. Nothing here knows which CRM it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from enginy_desktop.adapters.base import AssociationInput, CompanyLink, CrmAdapter, CrmObject, RecordInput, Value

from . import catalog
from .context import AppContext
from .store import Store

log = logging.getLogger(__name__)

DEMO_LIST = "Demo prospects"
DEMO_CAMPAIGN = "Q4 Outreach"
DEMO_PASSPHRASE = "enginy-demo-passphrase"  # protects only the emulator's made-up secret, in a temporary folder


def _sample(name: str) -> Path:
    return Path(str(resources.files("enginy_desktop.resources") / "sample" / name))


@dataclass
class DemoEnvironment:
    """A running demo: its data folder, the CRM and its emulator's address, and how to stop it."""

    data_dir: Path
    crm: str
    sandbox_url: str
    passphrase: str
    _stack: contextlib.ExitStack = field(repr=False)
    sandbox: Any = field(default=None, repr=False)

    @property
    def crm_name(self) -> str:
        return catalog.get(self.crm).name

    def close(self) -> None:
        self._stack.close()


async def _seed_crm(adapter: CrmAdapter, contacts_csv: Path, job_title_field: str | None) -> None:
    """Put some of the sample people in the CRM already, so a sync finds matches, one of them twice. Fields are
    the CRM's own (its identifier fields); a third have their e-mail, a quarter an older job title."""
    writable = {f.name for f in await adapter.fields(CrmObject.CONTACTS) if not f.read_only}
    roles = {r: name for r, name in adapter.identifier_fields(CrmObject.CONTACTS).items() if name in writable}
    with contacts_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    # Where the contact's company is a reference (the CRM derives its name from the company record), the
    # companies are created first and each contact points at its own; where it is an association of its own
    # (the contact has no company text), the contacts are associated with them once created.
    caps = adapter.capabilities
    company_ids: dict[str, str] = {}
    company_name = adapter.identifier_fields(CrmObject.COMPANIES).get("name")
    by_reference = caps.company_in_contact and bool(caps.company_field)
    by_association = caps.company_link is CompanyLink.ASSOCIATIONS
    if "company_name" not in roles and (by_reference or by_association) and company_name:
        names = list(dict.fromkeys(row["Company"] for row in rows[:24] if row["Company"]))
        made = await adapter.create(CrmObject.COMPANIES, [RecordInput({company_name: n}, key=n) for n in names])
        company_ids = {r.key: r.id for r in made if r.ok}

    def props(row: Mapping[str, str], i: int) -> dict[str, Value]:
        values = {"first_name": row["First Name"], "last_name": row["Last Name"], "company_name": row["Company"]}
        if i % 3 == 0 and row["Email"]:
            values["email"] = row["Email"]
        out: dict[str, Value] = {roles[r]: v for r, v in values.items() if r in roles and v}
        if row["Company"] in company_ids and by_reference:
            out[caps.company_field] = company_ids[row["Company"]]
        if job_title_field in writable and i % 4 == 1:
            out[job_title_field] = "Sales"  # an older title that Overwrite will replace
        return out

    inputs = [RecordInput(props(row, i), key=str(i)) for i, row in enumerate(rows[:24])]
    duplicate = rows[5]
    inputs.append(RecordInput(props({**duplicate, "Email": ""}, 2), key="duplicate"))
    results = await adapter.create(CrmObject.CONTACTS, inputs)
    if company_ids and not by_reference:
        companies = [rows[5]["Company"] if r.key == "duplicate" else rows[int(r.key)]["Company"] for r in results]
        links = [AssociationInput(r.id, company_ids[c], key=r.key) for r, c in zip(results, companies, strict=True)
                 if r.ok and c in company_ids]
        await adapter.associate(links)
    failed = [r for r in results if not r.ok]
    if failed:
        log.warning("The demo CRM refused %d sample contacts: %s", len(failed), failed[0].error)


async def _configure(ctx: AppContext, crm: str) -> None:
    """A starting configuration from the CRM's fields (as ``crm-config init``), then the sample people in it."""
    from .crm_config import MappingKind, ObjectType
    from .services.crm_starter import starter_config

    starter = await starter_config(ctx, crm)
    config = starter.config
    job_title = None
    for m in config.mappings(ObjectType.CONTACT):
        if m.kind is MappingKind.ENGINY and m.source == "job_title":
            m.overwrite = True  # the demo shows an overwrite in the preview
            job_title = m.crm_field
    ctx.crm_configs.save(config, **starter.validation)
    async with ctx.adapters.crm(crm) as adapter:
        await _seed_crm(adapter, _sample("contacts.csv"), job_title)


def start_demo(
    crm: str,
    settings: Mapping[str, str],
    *,
    base_dir: Path | None = None,
    stack: contextlib.ExitStack | None = None,
    sandbox: Any = None,
    sandbox_url: str = "",
    adapters: Callable[[AppContext], Any] | None = None,
) -> DemoEnvironment:
    """Create the demo folder, import the sample workspace, connect CRM ``crm`` with ``settings`` (its emulator's
    address and made-up secret), configure it and seed it. ``stack`` holds what stops the emulator (closed with
    the demo); ``adapters`` replaces the context's adapter factory (tests)."""
    from .importers.campaign_import import import_definition, import_events
    from .importers.csv_import import import_csv
    from .services.workspace import WorkspaceService

    stack = stack or contextlib.ExitStack()
    try:
        data_dir = Path(tempfile.mkdtemp(prefix="enginy-demo-", dir=base_dir))
        stack.callback(shutil.rmtree, data_dir, True)
        ctx = AppContext(data_dir=data_dir, store=Store.open(data_dir), secrets=None)
        if adapters is not None:
            ctx.adapters = adapters(ctx)
        try:
            workspace = WorkspaceService(ctx.store)
            workspace.create_user("Ana García", "ana@enginy-demo.example", make_current=True)
            workspace.create_user("Marc Puig", "marc@enginy-demo.example")
            import_csv(ctx.store, _sample("contacts.csv"), kind="contact", list_name=DEMO_LIST, source="demo")
            import_definition(ctx.store, _sample("campaign.csv"))
            import_events(ctx.store, _sample("campaign-events.csv"), report_path=data_dir / "demo-events-report.csv")
            _connect(ctx, crm, settings)
            asyncio.run(_configure(ctx, crm))
        finally:
            ctx.close()
        log.info("Demo ready in %s with %s on a local emulator", data_dir, catalog.get(crm).name)
        return DemoEnvironment(data_dir=data_dir, crm=crm, sandbox_url=sandbox_url, passphrase=DEMO_PASSPHRASE,
                               _stack=stack, sandbox=sandbox)
    except BaseException:
        stack.close()
        raise


def _connect(ctx: AppContext, crm: str, settings: Mapping[str, str]) -> None:
    from .secrets import EncryptedFileSecrets, secrets_file

    # The demo never touches the system keyring (it could hold the user's real CRM credentials): the emulator's
    # made-up secret lives in an encrypted file inside the demo folder, which is deleted with it.
    ctx.use_secrets(EncryptedFileSecrets.create(secrets_file(ctx.data_dir), DEMO_PASSPHRASE))
    ctx.integrations.save_connection(crm, dict(settings))
    ctx.integrations.enable(crm)
