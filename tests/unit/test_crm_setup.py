"""What the CRM wizard reads: fields and users through the adapter (cached, offline from the cache), the
workspace's identities and users, and duplicate-risk samples — against the HubSpot sandbox on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.crm_cache import CrmSnapshotCache
from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.services import crm_setup
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with serve(create_app(HubSpotSandboxConfig(seed_contacts=30, owners=3))) as url:
        yield url


def _connect(ctx: AppContext, url: str) -> None:
    ctx.integrations.save_connection("hubspot", {"token": DEFAULT_TOKEN, "base_url": url})


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_fields_and_users_are_fetched_then_served_from_the_cache(ctx: AppContext, sandbox_url: str) -> None:
    _connect(ctx, sandbox_url)
    first = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot"))
    assert first.fetched
    assert not first.error
    snap = first.snapshot
    assert snap is not None
    assert snap.crm_field("contact", "lifecyclestage").options
    assert snap.crm_field("company", "domain") is not None
    assert len(snap.users) == 3
    assert snap.identifier_fields_of("contact")["first_name"] == "firstname"
    assert CrmSnapshotCache(ctx.data_dir).path("hubspot").is_file()
    again = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot"))
    assert not again.fetched
    assert again.snapshot == snap
    refreshed = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot", refresh=True))
    assert refreshed.fetched
    assert refreshed.snapshot.fetched_at >= snap.fetched_at


def test_offline_falls_back_to_the_cached_copy(ctx: AppContext, sandbox_url: str) -> None:
    _connect(ctx, sandbox_url)
    saved = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot")).snapshot
    _connect(ctx, _dead_url())
    result = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot", refresh=True))
    assert result.offline
    assert "Could not reach HubSpot" in result.error
    assert result.snapshot == saved


def test_not_connected_says_what_to_do(ctx: AppContext) -> None:
    result = asyncio.run(crm_setup.load_snapshot(ctx, "hubspot"))
    assert result.snapshot is None
    assert "HubSpot is not connected" in result.error


def test_workspace_people(ctx: AppContext) -> None:
    ws = WorkspaceService(ctx.store)
    ident = ws.create_identity("email", "Sales inbox", "sales@acme.com")
    user = ws.create_user("Jane", "jane@acme.com")
    people = crm_setup.workspace_people(ctx)
    assert people.identities == {str(ident.id): "Sales inbox"}
    assert people.identity_emails == {str(ident.id): "sales@acme.com"}
    assert people.identity_details[str(ident.id)] == "Email sender · sales@acme.com"
    assert people.users == {str(user.id): "Jane"}
    assert people.user_emails == {str(user.id): "jane@acme.com"}


def test_risk_lists_largest_first(ctx: AppContext, tmp_path: Path) -> None:
    ws = WorkspaceService(ctx.store)
    for name, rows in (("Small", 1), ("Big", 3)):
        csv = tmp_path / f"{name}.csv"
        csv.write_text("First name,Last name,Company name\n" + "".join(f"A{i},B{i},C{name}{i}\n" for i in range(rows)),
                       "utf-8")
        ws.import_csv(csv, "contact", name)
    ws.create_list("Empty", "contact")
    contacts = crm_setup.risk_lists(ctx, ObjectType.CONTACT)
    assert [(x.name, x.count) for x in contacts] == [("Big", 3), ("Small", 1)]
    assert contacts[0].label == "Big (3 contacts)"
    companies = crm_setup.risk_lists(ctx, ObjectType.COMPANY)  # no company list: the contacts' companies
    assert [x.name for x in companies] == ["Big", "Small"]
