"""A small world for export tests: the HubSpot sandbox on loopback, HubSpot connected and enabled, a CRM
configuration, and a workspace with lists of contacts and companies, users, identities and campaigns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from enginy_desktop.core.crm_config import (
    AssociationType,
    CampaignProperty,
    CrmConfig,
    FieldMapping,
    MappingKind,
)
from enginy_desktop.core.models import (
    AppUser,
    Campaign,
    CampaignEvent,
    CampaignLead,
    CampaignStep,
    Company,
    Contact,
    ContactList,
    Identity,
    ListMembership,
)
from enginy_desktop.sandbox import server
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandbox, HubSpotSandboxConfig, create_app


@dataclass
class World:
    ctx: Any
    url: str
    sb: HubSpotSandbox
    app: Any
    owners: list[str] = field(default_factory=list)

    # -- CRM side -----------------------------------------------------------------------------------------------
    def crm_contacts(self) -> list[dict[str, Any]]:
        return [dict(r.props, id=str(r.id)) for r in self.sb.objects["contacts"].values() if not r.archived]

    def crm_companies(self) -> list[dict[str, Any]]:
        return [dict(r.props, id=str(r.id)) for r in self.sb.objects["companies"].values() if not r.archived]

    def crm_contact(self, email: str) -> dict[str, Any]:
        found = [c for c in self.crm_contacts() if c.get("email") == email]
        assert len(found) == 1, f"{email}: {len(found)} records"
        return found[0]

    def add_crm_contact(self, **props: str) -> str:
        return str(self.sb.insert("contacts", props).id)

    def add_crm_company(self, **props: str) -> str:
        return str(self.sb.insert("companies", props).id)

    def company_links(self, contact_id: str) -> dict[str, set[int]]:
        by_type = self.sb.associations.get(("contacts", int(contact_id)), {})
        return {str(k): set(v) for k, v in by_type.get("companies", {}).items()}

    def activities(self, kind: str = "emails") -> list[dict[str, Any]]:
        return [dict(r.props, id=str(r.id)) for r in self.sb.objects[kind].values() if not r.archived]

    def text_property(self, name: str, label: str, otype: str = "contacts", ptype: str = "string",
                      field_type: str = "text") -> None:
        group = "contactinformation" if otype == "contacts" else "companyinformation"
        self.sb.create_property(otype, {"name": name, "label": label, "type": ptype, "fieldType": field_type,
                                        "groupName": group})

    # -- local side -----------------------------------------------------------------------------------------------
    def user(self, name: str, email: str, *, current: bool = False) -> int:
        with self.ctx.store.write() as s:
            u = AppUser(name=name, email=email, is_current=current)
            s.add(u)
            s.flush()
            return u.id

    def contacts(self, list_name: str, rows: Sequence[dict[str, Any]]) -> list[int]:
        return self._records(list_name, "contacts", Contact, rows)

    def companies(self, list_name: str, rows: Sequence[dict[str, Any]]) -> list[int]:
        return self._records(list_name, "companies", Company, rows)

    def _records(self, list_name: str, kind: str, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
        with self.ctx.store.write() as s:
            lst = s.scalar(select(ContactList).where(ContactList.name == list_name))
            if lst is None:
                lst = ContactList(name=list_name, kind=kind)
                s.add(lst)
                s.flush()
            start = len(list(s.scalars(select(ListMembership.record_id).where(ListMembership.list_id == lst.id))))
            objs = [model(**r) for r in rows]
            s.add_all(objs)
            s.flush()
            s.add_all(ListMembership(list_id=lst.id, record_id=o.id, position=start + i) for i, o in enumerate(objs))
            return [o.id for o in objs]

    def company(self, **fields: Any) -> int:
        with self.ctx.store.write() as s:
            c = Company(**fields)
            s.add(c)
            s.flush()
            return c.id

    def campaign(self, name: str, identity: str, steps: Sequence[str]) -> tuple[int, int, list[int]]:
        """(campaign id, identity id, step ids)."""
        with self.ctx.store.write() as s:
            ident = Identity(kind="email", name=identity, address=f"{identity.lower().replace(' ', '.')}@acme.test")
            s.add(ident)
            s.flush()
            camp = Campaign(name=name, identity_id=ident.id)
            s.add(camp)
            s.flush()
            step_rows = [CampaignStep(campaign_id=camp.id, position=i, kind=k) for i, k in enumerate(steps, 1)]
            s.add_all(step_rows)
            s.flush()
            return camp.id, ident.id, [r.id for r in step_rows]

    def lead(self, campaign_id: int, contact_id: int, events: Sequence[tuple[int | None, str, datetime]]) -> None:
        """``events``: (step id or None, type, when)."""
        with self.ctx.store.write() as s:
            lead = CampaignLead(campaign_id=campaign_id, contact_id=contact_id,
                                added_at=datetime(2025, 1, 1, tzinfo=UTC))
            s.add(lead)
            s.flush()
            for step_id, etype, at in events:
                channel = None
                if step_id is not None:
                    kind = s.get(CampaignStep, step_id).kind
                    channel = {"email": "email", "call": "call"}.get(kind, "linkedin")
                s.add(CampaignEvent(lead_id=lead.id, step_id=step_id, type=etype, occurred_at=at, channel=channel))

    def configure(self, contact: Sequence[FieldMapping] = (), company: Sequence[FieldMapping] = (), *,
                  association: AssociationType = AssociationType.ADDITIONAL,
                  campaign: dict[CampaignProperty, str] | None = None, identities: dict[int, str] | None = None,
                  users: dict[int, str] | None = None, default_owner: str = "") -> CrmConfig:
        config = CrmConfig(crm="hubspot")
        for m in contact:
            config.add_mapping("contact", m)
        for m in company:
            config.add_mapping("company", m)
        config.association_type = association
        config.campaign_mappings = dict(campaign or {})
        config.identity_mappings = {str(k): v for k, v in (identities or {}).items()}
        config.user_mappings = {str(k): v for k, v in (users or {}).items()}
        config.default_owner = default_owner
        # Saved without the CRM's fields: the export checks them itself before any write.
        return self.ctx.crm_configs.save(config)


def enginy(source: str, crm_field: str, overwrite: bool = False) -> FieldMapping:
    return FieldMapping(MappingKind.ENGINY, crm_field, source=source, overwrite=overwrite)


def fixed(crm_field: str, value: str, overwrite: bool = False) -> FieldMapping:
    return FieldMapping(MappingKind.FIXED, crm_field, value=value, overwrite=overwrite)


def export_field(crm_field: str, overwrite: bool = False) -> FieldMapping:
    return FieldMapping(MappingKind.EXPORT, crm_field, overwrite=overwrite)


def engagement(crm_field: str, source: str, overwrite: bool = True) -> FieldMapping:
    return FieldMapping(MappingKind.ENGAGEMENT, crm_field, source=source, overwrite=overwrite)


CONTACT_BASICS = (
    enginy("first_name", "firstname"),
    enginy("last_name", "lastname"),
    enginy("email", "email"),
    enginy("company_name", "company"),
)
COMPANY_BASICS = (enginy("name", "name"), enginy("domain", "domain"))


@contextmanager
def world(ctx: Any, *, config: HubSpotSandboxConfig | None = None, connect: bool = True) -> Iterator[World]:
    app = create_app(config or HubSpotSandboxConfig(owners=3, rate_limit=None, search_rate_limit=None))
    sb: HubSpotSandbox = app.state.sandbox
    with server.serve(app) as url:
        if connect:
            ctx.integrations.save_connection("hubspot", {"base_url": url, "token": DEFAULT_TOKEN})
            ctx.integrations.enable("hubspot")
        yield World(ctx, url, sb, app, owners=sb.active_owner_ids())
