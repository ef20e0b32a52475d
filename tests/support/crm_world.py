"""The same small world on every CRM emulator: a sandbox on loopback, the CRM connected and enabled, and neutral
ways to put records in the CRM and read them back, so one test states one guarantee for HubSpot, Pipedrive,
Salesforce, Zoho, Dynamics 365 and TribeCRM.

Fields are named by their role (``first_name``, ``email``, ``job_title``, ``owner``…); :attr:`CrmWorld.f` gives
the CRM's own field for a role, for mappings. A contact's companies are read the CRM's way: HubSpot's
associations (with the primary one), Pipedrive's ``org_id`` and Salesforce's ``AccountId`` (one company, primary by
design).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from enginy_desktop.core.crm_config import AssociationType, CrmConfig, FieldMapping, MappingKind
from enginy_desktop.sandbox.kit.server import serve
from tests.support.export_world import World

CRMS = ("hubspot", "pipedrive", "salesforce", "zoho", "dynamics", "tribecrm")

FIELDS: dict[str, dict[str, str]] = {
    "hubspot": {"first_name": "firstname", "last_name": "lastname", "email": "email", "job_title": "jobtitle",
                "phone": "phone", "owner": "hubspot_owner_id", "company.name": "name", "company.domain": "domain"},
    "pipedrive": {"first_name": "first_name", "last_name": "last_name", "email": "email", "job_title": "job_title",
                  "phone": "phone", "owner": "owner_id", "company.name": "name", "company.domain": "website"},
    "zoho": {"first_name": "First_Name", "last_name": "Last_Name", "email": "Email", "job_title": "Title",
             "phone": "Phone", "owner": "Owner", "company.name": "Account_Name", "company.domain": "Website"},
    "salesforce": {"first_name": "FirstName", "last_name": "LastName", "email": "Email", "job_title": "Title",
                   "phone": "Phone", "owner": "OwnerId", "company.name": "Name", "company.domain": "Website"},
}
ZOHO_MODULES = {"email": "Tasks", "call": "Calls", "note": "Notes"}  # e-mails are logged as completed tasks


def _zoho_value(value: Any) -> Any:
    """A Zoho value as a role holds it: a lookup ({id, name}) as its id."""
    return str(value["id"]) if isinstance(value, dict) else value


SALESFORCE_SUBTYPES = {"email": "Email", "call": "Call", "note": "Task"}
FIELDS["dynamics"] = {"first_name": "firstname", "last_name": "lastname", "email": "emailaddress1",
                      "job_title": "jobtitle", "phone": "telephone1", "owner": "ownerid", "company.name": "name",
                      "company.domain": "websiteurl"}
DYNAMICS_ACTIVITIES = {"email": "email", "call": "phonecall", "note": "annotation"}
FIELDS["tribecrm"] = {"first_name": "FirstName", "last_name": "LastName", "email": "EmailAddress",
                      "job_title": "JobTitle", "phone": "PhoneNumber", "owner": "AccountManager",
                      "company.name": "Name", "company.domain": "Website"}
TRIBE_TASKS = {"email": ("E-mail sent", "E-mail received"), "call": ("Call", "Inbound call")}


@dataclass
class CrmWorld(World):
    crm: str = "hubspot"

    def f(self, role: str) -> str:
        return FIELDS[self.crm][role]

    # -- the CRM side, by role ------------------------------------------------------------------------------------
    def crm_contacts(self) -> list[dict[str, Any]]:
        if self.crm == "tribecrm":  # persons, without the employees' own
            f = FIELDS["tribecrm"]
            staff = {e["Person"] for e in self.sb.records["Relationship_Person_Contact_Employee"].values()}
            return [{"id": r["ID"], **{role: r.get(name) for role, name in f.items() if "." not in role}}
                    for r in list(self.sb.records["Relation_Person"].values()) if r["ID"] not in staff]
        if self.crm == "dynamics":
            f = FIELDS["dynamics"]
            return [{"id": r["contactid"], **{role: r.get("_ownerid_value" if name == "ownerid" else name)
                                              for role, name in f.items() if "." not in role}}
                    for r in list(self.sb.records["contact"].values())]
        if self.crm == "hubspot":
            return [self._hubspot_contact(r.id, r.props) for r in self.sb.objects["contacts"].values()
                    if not r.archived]
        if self.crm == "zoho":
            f = FIELDS["zoho"]
            return [{"id": r["id"], **{role: _zoho_value(r.get(name)) for role, name in f.items() if "." not in role}}
                    for r in list(self.sb.records["Contacts"].values())]
        if self.crm == "salesforce":
            f = FIELDS["salesforce"]
            return [{"id": r["Id"], **{role: r.get(name) for role, name in f.items() if "." not in role}}
                    for r in list(self.sb.records["Contact"].values())]
        return [self._pipedrive_contact(r) for r in self.sb.live("persons")]

    def crm_contact(self, email: str) -> dict[str, Any]:
        found = [c for c in self.crm_contacts() if c.get("email") == email]
        assert len(found) == 1, f"{email}: {len(found)} records"
        return found[0]

    def _hubspot_contact(self, rid: int, props: dict[str, Any]) -> dict[str, Any]:
        f = FIELDS["hubspot"]
        return {"id": str(rid), **{role: props.get(name) for role, name in f.items() if "." not in role}}

    def _pipedrive_contact(self, r: dict[str, Any]) -> dict[str, Any]:
        emails = [e["value"] for e in r.get("emails") or [] if e.get("primary")] or \
            [e["value"] for e in r.get("emails") or []]
        phones = [p["value"] for p in r.get("phones") or []]
        return {"id": str(r["id"]), "first_name": r.get("first_name"), "last_name": r.get("last_name"),
                "email": emails[0] if emails else None, "job_title": r.get("job_title"),
                "phone": phones[0] if phones else None,
                "owner": str(r["owner_id"]) if r.get("owner_id") is not None else None}

    def add_contact(self, first: str, last: str, email: str, *, job_title: str | None = None,
                    owner: str | None = None, company: tuple[str, str] | None = None) -> str:
        """``company``: (CRM id, name) of the contact's company — HubSpot keeps its name in the contact's
        ``company`` property and the link as an association; Pipedrive only the ``org_id``."""
        if self.crm == "tribecrm":
            tribe: dict[str, Any] = {"FirstName": first, "LastName": last, "EmailAddress": email}
            if job_title:
                tribe["JobTitle"] = job_title
            if owner:
                tribe["AccountManager"] = {"ID": owner}
            rid = str(self.sb.insert("Relation_Person", tribe)["ID"])
            if company:
                self.link(rid, company[0])
            return rid
        if self.crm == "dynamics":
            row: dict[str, Any] = {"firstname": first, "lastname": last, "emailaddress1": email}
            if company:
                row["parentcustomerid_account@odata.bind"] = f"/accounts({company[0]})"
            if job_title:
                row["jobtitle"] = job_title
            if owner:
                row["ownerid@odata.bind"] = f"/systemusers({owner})"
            return str(self.sb.insert("contact", row)["contactid"])
        if self.crm == "hubspot":
            props = {"firstname": first, "lastname": last, "email": email}
            if company:
                props["company"] = company[1]
            if job_title:
                props["jobtitle"] = job_title
            if owner:
                props["hubspot_owner_id"] = owner
            rid = str(self.sb.insert("contacts", props).id)
            if company:
                self.link(rid, company[0])
            return rid
        if self.crm == "zoho":
            zoho: dict[str, Any] = {"First_Name": first, "Last_Name": last, "Email": email}
            if company:
                zoho["Account_Name"] = {"id": company[0]}
            if job_title:
                zoho["Title"] = job_title
            if owner:
                zoho["Owner"] = {"id": owner}
            return str(self.sb.insert("Contacts", zoho)["id"])
        if self.crm == "salesforce":
            values: dict[str, Any] = {"FirstName": first, "LastName": last, "Email": email}
            if company:
                values["AccountId"] = company[0]
            if job_title:
                values["Title"] = job_title
            if owner:
                values["OwnerId"] = owner
            return str(self.sb.insert("Contact", values)["Id"])
        body: dict[str, Any] = {"name": f"{first} {last}".strip(), "emails": [{"value": email, "primary": True}]}
        if company:
            body["org_id"] = int(company[0])
        if job_title:
            body["job_title"] = job_title
        if owner:
            body["owner_id"] = int(owner)
        return str(self.sb.create("persons", body)["id"])

    def add_company(self, name: str, domain: str) -> str:
        if self.crm == "tribecrm":
            return str(self.sb.insert("Relation_Organization", {"Name": name, "Website": f"https://{domain}"})["ID"])
        if self.crm == "dynamics":
            return str(self.sb.insert("account", {"name": name, "websiteurl": f"https://{domain}"})["accountid"])
        if self.crm == "hubspot":
            return str(self.sb.insert("companies", {"name": name, "domain": domain}).id)
        if self.crm == "zoho":
            return str(self.sb.insert("Accounts", {"Account_Name": name, "Website": f"https://{domain}"})["id"])
        if self.crm == "salesforce":
            return str(self.sb.insert("Account", {"Name": name, "Website": f"https://{domain}"})["Id"])
        return str(self.sb.create("organizations", {"name": name, "website": f"https://{domain}"})["id"])

    def crm_company_ids(self, domain: str) -> list[str]:
        if self.crm == "tribecrm":
            return [r["ID"] for r in list(self.sb.records["Relation_Organization"].values())
                    if domain in str(r.get("Website") or "")]
        if self.crm == "dynamics":
            return [r["accountid"] for r in list(self.sb.records["account"].values())
                    if domain in str(r.get("websiteurl") or "")]
        if self.crm == "hubspot":
            return [str(r.id) for r in self.sb.objects["companies"].values()
                    if not r.archived and r.props.get("domain") == domain]
        if self.crm == "zoho":
            return [r["id"] for r in list(self.sb.records["Accounts"].values())
                    if domain in str(r.get("Website") or "")]
        if self.crm == "salesforce":
            return [r["Id"] for r in list(self.sb.records["Account"].values())
                    if domain in str(r.get("Website") or "")]
        return [str(r["id"]) for r in self.sb.live("organizations") if domain in str(r.get("website") or "")]

    def link(self, contact: str, company: str) -> None:
        """Make ``company`` the contact's (primary) company."""
        if self.crm == "tribecrm":  # a contact relationship (TribeCRM has no primary one)
            self.sb.insert("Relationship_Person_Contact_Standard", {"Person": {"ID": contact},
                                                                    "Relation": {"ID": company}})
            return
        if self.crm == "dynamics":
            self.sb.modify("contact", contact, {"parentcustomerid_account@odata.bind": f"/accounts({company})"})
            return
        if self.crm == "hubspot":
            self.sb.associate("contacts", int(contact), "companies", int(company), [1, 279])
        elif self.crm == "salesforce":
            self.sb.modify("Contact", contact, {"AccountId": company})
        elif self.crm == "zoho":
            self.sb.modify("Contacts", contact, {"Account_Name": {"id": company}})
        else:
            self.sb.update("persons", int(contact), {"org_id": int(company)})

    def companies_of(self, contact: str) -> set[str]:
        if self.crm == "tribecrm":
            return set(self.sb.companies_of(contact))
        if self.crm == "dynamics":
            account = self.sb.records["contact"][contact].get("_parentcustomerid_value")
            return {account} if account else set()
        if self.crm == "hubspot":
            by_type = self.sb.associations.get(("contacts", int(contact)), {}).get("companies", {})
            return {str(k) for k in by_type}
        if self.crm == "salesforce":
            account = self.sb.records["Contact"][contact].get("AccountId")
            return {account} if account else set()
        if self.crm == "zoho":
            account = _zoho_value(self.sb.records["Contacts"][contact].get("Account_Name"))
            return {account} if account else set()
        org = self.sb.records["persons"][int(contact)].get("org_id")
        return {str(org)} if org else set()

    def primary_company(self, contact: str) -> str | None:
        if self.crm == "tribecrm":  # no primary in TribeCRM: the newest contact relationship
            linked = self.sb.companies_of(contact)
            return linked[-1] if linked else None
        if self.crm == "dynamics":
            return self.sb.records["contact"][contact].get("_parentcustomerid_value")
        if self.crm == "hubspot":
            by_type = self.sb.associations.get(("contacts", int(contact)), {}).get("companies", {})
            primary = [str(k) for k, types in by_type.items() if 1 in types]
            return primary[0] if primary else None
        if self.crm == "salesforce":
            return self.sb.records["Contact"][contact].get("AccountId")
        if self.crm == "zoho":
            return _zoho_value(self.sb.records["Contacts"][contact].get("Account_Name"))
        org = self.sb.records["persons"][int(contact)].get("org_id")
        return str(org) if org else None

    def activity_counts(self) -> dict[str, int]:
        if self.crm == "tribecrm":  # e-mails and calls are completed tasks, notes are notes
            tasks = [str(t["Subject"]) for t in self.sb.records["Activity_Task"].values()]
            return {**{kind: sum(1 for t in tasks if t.split(":")[0] in leads) for kind, leads in TRIBE_TASKS.items()},
                    "note": len(self.sb.records["Note"])}
        if self.crm == "dynamics":
            return {kind: len(self.sb.records[table]) for kind, table in DYNAMICS_ACTIVITIES.items()}
        if self.crm == "hubspot":
            return {kind: sum(1 for r in self.sb.objects[plural].values() if not r.archived)
                    for kind, plural in (("email", "emails"), ("call", "calls"), ("note", "notes"))}
        if self.crm == "zoho":
            return {kind: len(self.sb.records[module]) for kind, module in ZOHO_MODULES.items()}
        if self.crm == "salesforce":
            tasks = list(self.sb.records["Task"].values())
            return {kind: sum(1 for t in tasks if t["TaskSubtype"] == sub) for kind, sub in SALESFORCE_SUBTYPES.items()}
        acts = [a for a in self.sb.activities.values() if not a["is_deleted"]]
        return {"email": sum(1 for a in acts if a["type"] == "email"),
                "call": sum(1 for a in acts if a["type"] == "call"), "note": len(self.sb.notes)}

    def activity_owners(self) -> set[str]:
        if self.crm == "tribecrm":
            return {str(t["Assignee"]) for t in self.sb.records["Activity_Task"].values()} | {
                str(n["Owner"]) for n in self.sb.records["Note"].values()}
        if self.crm == "dynamics":
            return {str(r["_ownerid_value"]) for table in DYNAMICS_ACTIVITIES.values()
                    for r in self.sb.records[table].values()}
        if self.crm == "hubspot":
            return {str(r.props.get("hubspot_owner_id")) for kind in ("emails", "calls", "notes")
                    for r in self.sb.objects[kind].values() if not r.archived}
        if self.crm == "salesforce":
            return {str(t["OwnerId"]) for t in self.sb.records["Task"].values()}
        if self.crm == "zoho":
            return {str(_zoho_value(r.get("Owner"))) for module in ZOHO_MODULES.values()
                    for r in self.sb.records[module].values()}
        return {str(a["owner_id"]) for a in self.sb.activities.values()} | {
            str(n["user_id"]) for n in self.sb.notes.values()}

    def api_requests(self) -> int:
        return sum(1 for r in self.sb.requests if not r.path.startswith("/__sandbox__"))

    # -- configuration by role ------------------------------------------------------------------------------------
    def mapping(self, source: str, role: str, overwrite: bool = False) -> FieldMapping:
        return FieldMapping(MappingKind.ENGINY, self.f(role), source=source, overwrite=overwrite)

    def basics(self) -> list[FieldMapping]:
        return [self.mapping("first_name", "first_name"), self.mapping("last_name", "last_name"),
                self.mapping("email", "email")]

    def company_basics(self) -> list[FieldMapping]:
        return [self.mapping("name", "company.name"), self.mapping("domain", "company.domain")]

    def configure(self, contact: Sequence[FieldMapping] = (), company: Sequence[FieldMapping] = (), *,
                  association: AssociationType = AssociationType.ADDITIONAL,
                  campaign: Any = None, identities: dict[int, str] | None = None,
                  users: dict[int, str] | None = None, default_owner: str = "", by_email: bool = True) -> CrmConfig:
        """``by_email``: contacts are identified by their e-mail (the same rule on every CRM)."""
        from enginy_desktop.core.crm_config import ContactIdentifier
        from enginy_desktop.core.matching.normalize import Kind
        from enginy_desktop.core.matching.rules import Condition, ContactPreset, Rule

        config = CrmConfig(crm=self.crm)
        if by_email:
            email = Rule.of(Condition("email", self.f("email"), Kind.EMAIL, "Email"))
            config.contact_identifier = ContactIdentifier(ContactPreset.CUSTOM, email)
        for m in contact:
            config.add_mapping("contact", m)
        for m in company:
            config.add_mapping("company", m)
        config.association_type = association
        config.campaign_mappings = dict(campaign or {})
        config.identity_mappings = {str(k): v for k, v in (identities or {}).items()}
        config.user_mappings = {str(k): v for k, v in (users or {}).items()}
        config.default_owner = default_owner
        return self.ctx.crm_configs.save(config)


def emulator(crm: str, **config: Any) -> Any:
    """The app of ``crm``'s emulator without rate limits (tests of behaviour, not of speed)."""
    if crm == "tribecrm":
        from enginy_desktop.sandbox.crm.tribecrm import TribeSandboxConfig
        from enginy_desktop.sandbox.crm.tribecrm import create_app as tribe_app

        return tribe_app(TribeSandboxConfig(**{"calls_per_minute": None, **config}))
    if crm == "dynamics":
        from enginy_desktop.sandbox.crm.dynamics import DynamicsSandboxConfig
        from enginy_desktop.sandbox.crm.dynamics import create_app as dynamics_app

        return dynamics_app(DynamicsSandboxConfig(**{"requests_per_window": None, **config}))
    if crm == "hubspot":
        from enginy_desktop.sandbox.hubspot import HubSpotSandboxConfig
        from enginy_desktop.sandbox.hubspot import create_app as hubspot_app

        return hubspot_app(HubSpotSandboxConfig(**{"owners": 3, "rate_limit": None, "search_rate_limit": None,
                                                   **config}))
    if crm == "zoho":
        from enginy_desktop.sandbox.crm.zoho import ZohoSandboxConfig
        from enginy_desktop.sandbox.crm.zoho import create_app as zoho_app

        return zoho_app(ZohoSandboxConfig(**{"daily_credits": None, "concurrency": None, **config}))
    if crm == "salesforce":
        from enginy_desktop.sandbox.crm.salesforce import SalesforceSandboxConfig
        from enginy_desktop.sandbox.crm.salesforce import create_app as salesforce_app

        return salesforce_app(SalesforceSandboxConfig(**{"daily_requests": None, **config}))
    from enginy_desktop.sandbox.crm.pipedrive import PipedriveSandboxConfig
    from enginy_desktop.sandbox.crm.pipedrive import create_app as pipedrive_app

    return pipedrive_app(PipedriveSandboxConfig(**{"rate_limit": None, "search_rate_limit": None,
                                                   "daily_tokens": None, **config}))


def token_of(crm: str) -> tuple[str, str]:
    """(secret field, the emulator's credential)."""
    if crm == "tribecrm":
        from enginy_desktop.sandbox.crm.tribecrm import DEFAULT_TOKEN as TRIBE_TOKEN

        return "access_token", TRIBE_TOKEN
    if crm == "dynamics":
        from enginy_desktop.sandbox.crm.dynamics import DEFAULT_TOKEN as DYNAMICS_TOKEN

        return "access_token", DYNAMICS_TOKEN
    if crm == "hubspot":
        from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN

        return "token", DEFAULT_TOKEN
    if crm == "zoho":
        from enginy_desktop.sandbox.crm.zoho import DEFAULT_TOKEN as ZOHO_TOKEN

        return "access_token", ZOHO_TOKEN
    if crm == "salesforce":
        from enginy_desktop.sandbox.crm.salesforce import DEFAULT_TOKEN as SALESFORCE_TOKEN

        return "access_token", SALESFORCE_TOKEN
    from enginy_desktop.sandbox.crm.pipedrive import DEFAULT_TOKEN as PIPEDRIVE_TOKEN

    return "api_token", PIPEDRIVE_TOKEN


def owners_of(crm: str, sb: Any) -> list[str]:
    if crm == "tribecrm":
        return list(sb.employee_ids())
    if crm == "dynamics":
        return list(sb.user_ids())
    if crm == "hubspot":
        return list(sb.active_owner_ids())
    if crm == "salesforce":
        return sb.user_ids()
    if crm == "zoho":
        return list(sb.active_user_ids())
    return [str(u["id"]) for u in sb.users if u["active_flag"]]


@contextmanager
def crm_world(ctx: Any, crm: str, *, connect: bool = True, **config: Any) -> Iterator[CrmWorld]:
    app = emulator(crm, **config)
    sb = app.state.sandbox
    with serve(app) as url:
        if connect:
            field, secret = token_of(crm)
            ctx.integrations.save_connection(crm, {"base_url": url, field: secret})
            ctx.integrations.enable(crm)
        yield CrmWorld(ctx, url, sb, app, owners=owners_of(crm, sb), crm=crm)
