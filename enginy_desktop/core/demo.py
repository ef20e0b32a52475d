"""Demo mode: a throw-away workspace with sample data and HubSpot connected to a local sandbox.

``enginy-desktop --demo`` uses it so a newcomer can try the wizard, a sync and an export without any account.
Everything lives in a temporary folder that is deleted when the demo ends; the sandbox runs on 127.0.0.1 inside
the app's process and answers like HubSpot (rate limits included).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .context import AppContext
from .crm_config import CrmConfig, FieldMapping, MappingKind, ObjectType
from .store import Store

log = logging.getLogger(__name__)

DEMO_LIST = "Demo prospects"
DEMO_CAMPAIGN = "Q4 Outreach"
DEMO_PASSPHRASE = "enginy-demo-passphrase"  # protects only the sandbox's made-up token, in a temporary folder

# Enginy field -> HubSpot property, with Overwrite, for the starter Export Mapping of the demo.
_CONTACT_MAPPINGS = (
    ("first_name", "firstname", False),
    ("last_name", "lastname", False),
    ("email", "email", False),
    ("job_title", "jobtitle", True),
    ("phone", "phone", False),
    ("linkedin_url", "hs_linkedin_url", False),
    ("company_name", "company", False),
    ("city", "city", False),
    ("country", "country", False),
)
_COMPANY_MAPPINGS = (
    ("name", "name", False),
    ("domain", "domain", False),
    ("industry", "industry", False),
    ("city", "city", False),
    ("country", "country", False),
)


def _sample(name: str) -> Path:
    return Path(str(resources.files("enginy_desktop.resources") / "sample" / name))


@dataclass
class DemoEnvironment:
    """A running demo: its data folder, the sandbox's address, and how to stop it."""

    data_dir: Path
    sandbox_url: str
    token: str
    passphrase: str
    _stack: contextlib.ExitStack = field(repr=False)
    sandbox: Any = field(default=None, repr=False)

    def close(self) -> None:
        self._stack.close()


def starter_config() -> CrmConfig:
    """A sensible first configuration for the demo's HubSpot, so an export can be tried at once."""
    config = CrmConfig(crm="hubspot")
    for source, target, overwrite in _CONTACT_MAPPINGS:
        config.add_mapping(
            ObjectType.CONTACT, FieldMapping(MappingKind.ENGINY, target, source=source, overwrite=overwrite)
        )
    config.add_mapping(ObjectType.CONTACT, FieldMapping(MappingKind.FIXED, "hs_lead_status", value="NEW"))
    for source, target, overwrite in _COMPANY_MAPPINGS:
        config.add_mapping(
            ObjectType.COMPANY, FieldMapping(MappingKind.ENGINY, target, source=source, overwrite=overwrite)
        )
    return config


def _seed_crm(sandbox: Any, contacts_csv: Path) -> None:
    """Put some of the sample people in the sandbox CRM already, so a sync finds matches, one of them twice."""
    import csv

    with contacts_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows[:24]):
        props = {"firstname": row["First Name"], "lastname": row["Last Name"], "company": row["Company"]}
        if i % 3 == 0 and row["Email"]:
            props["email"] = row["Email"]
        if i % 4 == 1:
            props["jobtitle"] = "Sales"  # an older title that Overwrite will replace
        sandbox.create("contacts", props)
    duplicate = rows[5]
    sandbox.create(
        "contacts",
        {"firstname": duplicate["First Name"], "lastname": duplicate["Last Name"], "company": duplicate["Company"]},
    )


def start_demo(base_dir: Path | None = None) -> DemoEnvironment:
    """Create the demo folder, start the sandbox, import the sample workspace and connect HubSpot."""
    from enginy_desktop.core.importers.campaign_import import import_definition, import_events
    from enginy_desktop.core.importers.csv_import import import_csv
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
    from enginy_desktop.sandbox.server import serve

    stack = contextlib.ExitStack()
    try:
        data_dir = Path(tempfile.mkdtemp(prefix="enginy-demo-", dir=base_dir))
        stack.callback(shutil.rmtree, data_dir, True)
        app = create_app(HubSpotSandboxConfig(seed_contacts=200, seed_companies=40))
        url = stack.enter_context(serve(app))
        sandbox = app.state.sandbox
        _seed_crm(sandbox, _sample("contacts.csv"))

        ctx = AppContext(data_dir=data_dir, store=Store.open(data_dir), secrets=None)
        try:
            workspace = WorkspaceService(ctx.store)
            workspace.create_user("Ana García", "ana@enginy-demo.example", make_current=True)
            workspace.create_user("Marc Puig", "marc@enginy-demo.example")
            import_csv(ctx.store, _sample("contacts.csv"), kind="contact", list_name=DEMO_LIST, source="demo")
            import_definition(ctx.store, _sample("campaign.csv"))
            import_events(ctx.store, _sample("campaign-events.csv"), report_path=data_dir / "demo-events-report.csv")
            _connect(ctx, url, DEFAULT_TOKEN)
        finally:
            ctx.close()
        log.info("Demo ready in %s with the HubSpot sandbox at %s", data_dir, url)
        return DemoEnvironment(
            data_dir=data_dir,
            sandbox_url=url,
            token=DEFAULT_TOKEN,
            passphrase=DEMO_PASSPHRASE,
            _stack=stack,
            sandbox=sandbox,
        )
    except BaseException:
        stack.close()
        raise


def _connect(ctx: AppContext, url: str, token: str) -> None:
    from .secrets import EncryptedFileSecrets, secrets_file

    # The demo never touches the system keyring (it could hold the user's real HubSpot token): its sandbox
    # token lives in an encrypted file inside the demo folder, which is deleted with it.
    ctx.use_secrets(EncryptedFileSecrets.create(secrets_file(ctx.data_dir), DEMO_PASSPHRASE))
    ctx.integrations.save_connection("hubspot", {"token": token, "base_url": url, "tier": "Professional"})
    ctx.integrations.enable("hubspot")
    ctx.crm_configs.save(starter_config())


@contextlib.contextmanager
def demo_environment(base_dir: Path | None = None) -> Iterator[DemoEnvironment]:
    env = start_demo(base_dir)
    try:
        yield env
    finally:
        env.close()
