"""State and rules of the Salesforce emulator: one org with users, Accounts, Contacts and Tasks, their describe,
validation as Salesforce does it (required fields, read-only fields, unknown fields, references, e-mail format),
duplicate rules (switchable), the daily API request allocation and Salesforce's error array shape.

Vendor facts: ``apis/crm_apis.md`` §4; the sObjects description in ``specs/salesforce``; error codes from
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm; the allocation header
from https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...kit import (
    Budget,
    Emulator,
    EmulatorConfig,
    GatewayRequest,
    TokenInfo,
    TokenProblem,
    TokenStore,
    VendorError,
    sample_counts,
)
from ...kit.errors import ErrorKind

API_VERSION = "v62.0"
DATA = f"/services/data/{API_VERSION}"
DEFAULT_TOKEN = "00DSANDBOX0000000001.AQsandbox.session.enginy.local"  # made up; no "!" (shell history)
DEFAULT_CLIENT_ID = "3MVG9sandbox.enginy.local.consumer.key"
PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q", "Task": "00T", "User": "005", "Organization": "00D",
            "AccountContactRelation": "07k"}
ACR = "AccountContactRelation"
ORG_ID = "00D000000000001AAA"


class SalesforceError(VendorError):
    """Salesforce's error array: ``[{"message": …, "errorCode": …, "fields": […]}]``."""

    def __init__(self, status: int, code: str, message: str, *, fields: list[str] | None = None,
                 headers: dict[str, str] | None = None, limited_by: str | None = None) -> None:
        super().__init__(status, message, headers=headers, limited_by=limited_by)
        self.code = code
        self.fields = fields

    def payload(self, emulator: Emulator) -> Any:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def bad(code: str, message: str, fields: list[str] | None = None, status: int = 400) -> SalesforceError:
    return SalesforceError(status, code, message, fields=fields)


class RecordProblem(Exception):
    """One record refused (collections answer it per record, single-record calls as a 400)."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None,
                 duplicate_of: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []
        self.duplicate_of = duplicate_of

    def as_error(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statusCode": self.code, "message": self.message, "fields": self.fields}
        if self.duplicate_of:
            out["duplicateResult"] = {
                "allowSave": False, "duplicateRule": "Standard_Contact_Duplicate_Rule",
                "duplicateRuleEntityType": "Contact", "errorMessage": self.message,
                "matchResults": [{"entityType": "Contact", "matchEngine": "ExactMatchEngine", "success": True,
                                  "matchRecords": [{"record": {"attributes": {"type": "Contact"},
                                                               "Id": self.duplicate_of},
                                                    "matchConfidence": 100.0}]}]}
        return out


# -- describe -------------------------------------------------------------------------------------------------------


def _f(name: str, label: str, kind: str, *, create: bool = True, update: bool = True, nillable: bool = True,
       refs: tuple[str, ...] = (), options: tuple[str, ...] = (), external: bool = False, custom: bool = False,
       length: int = 255, defaulted: bool = False) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": kind, "createable": create, "updateable": update,
        "nillable": nillable, "referenceTo": list(refs), "externalId": external, "unique": external,
        "custom": custom, "calculated": False, "defaultedOnCreate": defaulted, "idLookup": name == "Id" or external,
        "length": length if kind in ("string", "email", "phone", "url", "textarea", "picklist") else 0,
        "relationshipName": (name[:-2] if name.endswith("Id") and refs else None),
        "picklistValues": [{"value": o, "label": o, "active": True, "defaultValue": False} for o in options],
    }


SYSTEM = [
    _f("Id", "Record ID", "id", create=False, update=False, nillable=False, length=18),
    _f("CreatedDate", "Created Date", "datetime", create=False, update=False),
    _f("LastModifiedDate", "Last Modified Date", "datetime", create=False, update=False),
]

DESCRIBE: dict[str, list[dict[str, Any]]] = {
    "Contact": [*SYSTEM,
                _f("FirstName", "First Name", "string", length=40),
                _f("LastName", "Last Name", "string", nillable=False, length=80),
                _f("Name", "Full Name", "string", create=False, update=False),
                _f("Email", "Email", "email", length=80),
                _f("Phone", "Business Phone", "phone"),
                _f("MobilePhone", "Mobile Phone", "phone"),
                _f("Title", "Title", "string", length=128),
                _f("Department", "Department", "string", length=80),
                _f("AccountId", "Account ID", "reference", refs=("Account",)),
                _f("OwnerId", "Owner ID", "reference", refs=("User",), nillable=False, defaulted=True),
                _f("LeadSource", "Lead Source", "picklist",
                   options=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")),
                _f("Description", "Contact Description", "textarea", length=32000),
                _f("Birthdate", "Birthdate", "date"),
                _f("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, defaulted=True),
                _f("LinkedIn_URL__c", "LinkedIn URL", "url", custom=True),
                _f("Enginy_Id__c", "Enginy ID", "string", custom=True, external=True)],
    "Lead": [*SYSTEM,
             _f("FirstName", "First Name", "string", length=40),
             _f("LastName", "Last Name", "string", nillable=False, length=80),
             _f("Name", "Full Name", "string", create=False, update=False),
             _f("Company", "Company", "string", nillable=False),
             _f("Email", "Email", "email", length=80),
             _f("Phone", "Phone", "phone"),
             _f("Title", "Title", "string", length=128),
             _f("Website", "Website", "url"),
             _f("Status", "Lead Status", "picklist", nillable=False, defaulted=True,
                options=("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                         "Closed - Not Converted")),
             _f("LeadSource", "Lead Source", "picklist",
                options=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")),
             _f("OwnerId", "Owner ID", "reference", refs=("User", "Group"), nillable=False, defaulted=True),
             _f("Description", "Description", "textarea", length=32000),
             _f("LinkedIn_URL__c", "LinkedIn URL", "url", custom=True),
             _f("Enginy_Id__c", "Enginy ID", "string", custom=True, external=True)],
    "Account": [*SYSTEM,
                _f("Name", "Account Name", "string", nillable=False),
                _f("Website", "Website", "url"),
                _f("Phone", "Account Phone", "phone"),
                _f("Industry", "Industry", "picklist",
                   options=("Technology", "Manufacturing", "Retail", "Finance", "Healthcare", "Other")),
                _f("Type", "Account Type", "picklist", options=("Prospect", "Customer - Direct", "Partner")),
                _f("NumberOfEmployees", "Employees", "int"),
                _f("AnnualRevenue", "Annual Revenue", "currency"),
                _f("OwnerId", "Owner ID", "reference", refs=("User",), nillable=False, defaulted=True),
                _f("Description", "Account Description", "textarea", length=32000),
                _f("Segment__c", "Segment", "multipicklist", custom=True, options=("SMB", "Mid-market", "Enterprise")),
                _f("External_Id__c", "External ID", "string", custom=True, external=True)],
    "Task": [*SYSTEM,
             _f("Subject", "Subject", "combobox"),
             _f("TaskSubtype", "Task Subtype", "picklist", update=False,
                options=("Task", "Email", "Call", "LinkedIn", "ListEmail", "Cadence")),
             _f("Status", "Status", "picklist", nillable=False, defaulted=True,
                options=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")),
             _f("ActivityDate", "Due Date Only", "date"),
             _f("WhoId", "Name ID", "reference", refs=("Contact", "Lead")),
             _f("WhatId", "Related To ID", "reference", refs=("Account",)),
             _f("OwnerId", "Assigned To ID", "reference", refs=("User",), nillable=False, defaulted=True),
             _f("Description", "Description", "textarea", length=32000),
             _f("CallType", "Call Type", "picklist", options=("Internal", "Inbound", "Outbound")),
             _f("CallDurationInSeconds", "Call Duration", "int")],
    # Contacts to Multiple Accounts (the org's switch): a contact's primary account is its direct relation
    # (IsDirect, kept in step with Contact.AccountId), other accounts are indirect relations. Fields:
    # https://developer.salesforce.com/docs/atlas.en-us.264.0.object_reference.meta/object_reference/sforce_api_objects_accountcontactrelation.htm
    ACR: [*SYSTEM,
          _f("AccountId", "Account ID", "reference", refs=("Account",), update=False, nillable=False),
          _f("ContactId", "Contact ID", "reference", refs=("Contact",), update=False, nillable=False),
          _f("IsDirect", "Direct", "boolean", create=False, update=False, nillable=False, defaulted=True),
          _f("IsActive", "Active", "boolean", nillable=False, defaulted=True),
          _f("Roles", "Roles", "multipicklist", options=("Business User", "Decision Maker", "Economic Buyer",
                                                         "Evaluator", "Executive Sponsor", "Influencer", "Other")),
          _f("StartDate", "Start Date", "date"),
          _f("EndDate", "End Date", "date")],
    "User": [*SYSTEM,
             _f("Username", "Username", "string", nillable=False),
             _f("Email", "Email", "email", nillable=False),
             _f("FirstName", "First Name", "string"),
             _f("LastName", "Last Name", "string", nillable=False),
             _f("IsActive", "Active", "boolean", nillable=False),
             _f("UserType", "User Type", "picklist", create=False, update=False, options=("Standard",))],
}
REQUIRED = {"Contact": ("LastName",), "Lead": ("LastName", "Company"), "Account": ("Name",), "Task": (),
            "User": (), ACR: ("AccountId", "ContactId")}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class SalesforceSandboxConfig(EmulatorConfig):
    session_tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    client_id: str = DEFAULT_CLIENT_ID
    daily_requests: int | None = 100_000  # the org's daily API request allocation; None: no limit
    duplicate_rules: bool = False  # the standard contact duplicate rule (same e-mail) blocks creates
    # "Contacts to Multiple Accounts" (Setup → Account Settings): AccountContactRelation is there, and a contact
    # may be related to accounts besides its primary one. Off (as in a new org): the object does not exist.
    account_contact_relations: bool = False
    seed_contacts: int = 0
    seed_accounts: int | None = None  # default: a tenth of the contacts
    org_name: str = "Sandbox Org"
    edition: str = "Developer Edition"
    token_lifetime_s: float = 7200.0
    page_size: int = 2000  # records per query page (Salesforce's default batch), sub-queries' children counted
    child_page_size: int | None = None  # a sub-query's records per record before its own nextRecordsUrl (page_size)
    # Field-level security changed after a client read describe: "Contact.Title" refuses writes of Title with
    # INVALID_FIELD_FOR_INSERT_UPDATE although describe still says it is writable.
    locked_fields: tuple[str, ...] = ()


class SalesforceSandbox(Emulator):
    vendor = "Salesforce"
    public_paths = ("/services/oauth2/authorize", "/services/oauth2/token", "/services/oauth2/revoke")
    oauth_redirect_uri = "http://localhost:1717/OauthRedirect"
    tokens: TokenStore

    def __init__(self, config: SalesforceSandboxConfig | None = None) -> None:
        cfg = config or SalesforceSandboxConfig()
        super().__init__(cfg)
        self.config: SalesforceSandboxConfig = cfg
        self.allocation = Budget(cfg.daily_requests, "day", cfg.wall_clock) if cfg.daily_requests else None
        self.requests_used = 0
        self.tokens = TokenStore(static=cfg.session_tokens, static_kind="session", clock=cfg.clock,
                                 faults=lambda: self.config.faults, access_lifetime_s=cfg.token_lifetime_s,
                                 default_scopes=("api", "refresh_token"), user_id=1, clients=None)
        self._init_data()
        self.seed(cfg.seed_contacts, cfg.seed_accounts)

    def _init_data(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in ("Account", "Contact", "Lead", "Task",
                                                                                "User", ACR)}
        self.next_n: dict[str, int] = dict.fromkeys(PREFIXES, 1)
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        for first, last, active in (("Sandra", "Sandbox", True), ("Oscar", "Owner", True), ("Fiona", "Former", False)):
            email = f"{first.lower()}@sandbox.example"
            self.insert("User", {"Username": email, "Email": email, "FirstName": first, "LastName": last,
                                 "IsActive": active, "UserType": "Standard"}, check=False)

    # -- ids and records -------------------------------------------------------------------------------------------
    def new_id(self, obj: str) -> str:
        n = self.next_n[obj]
        self.next_n[obj] += 1
        return f"{PREFIXES[obj]}{n:012d}AAA"

    def now(self) -> str:
        moment = datetime.fromtimestamp(self.config.wall_clock(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"

    def find(self, obj: str, rid: str) -> dict[str, Any] | None:
        table = self.records.get(obj) or {}
        if len(rid) == 15:
            rid = next((k for k in table if k[:15] == rid), rid)
        return table.get(rid)

    def object_of(self, rid: str) -> str | None:
        return next((o for o, p in PREFIXES.items() if rid.startswith(p) and o in self.records), None)

    def visible(self, obj: str) -> bool:
        """Whether sObject ``obj`` exists in this org (AccountContactRelation only with its switch on)."""
        return obj in DESCRIBE and (obj != ACR or self.config.account_contact_relations)

    def child_relationships(self, obj: str) -> list[dict[str, Any]]:
        """describe's ``childRelationships`` (the ones the emulator has)."""
        children = {"Account": [("Contact", "AccountId", "Contacts"), ("Task", "WhatId", "Tasks"),
                                (ACR, "AccountId", "AccountContactRelations")],
                    "Contact": [("Task", "WhoId", "Tasks"), (ACR, "ContactId", "AccountContactRelations")],
                    "Lead": [("Task", "WhoId", "Tasks")]}.get(obj, [])
        return [{"childSObject": child, "field": name, "relationshipName": rel, "cascadeDelete": child == ACR,
                 "deprecatedAndHidden": False, "restrictedDelete": False}
                for child, name, rel in children if self.visible(child)]

    def field_defs(self, obj: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in DESCRIBE[obj]}

    def user_ids(self, active_only: bool = True) -> list[str]:
        return [u["Id"] for u in self.records["User"].values() if u["IsActive"] or not active_only]

    def _value(self, obj: str, f: dict[str, Any], value: Any) -> Any:
        name, kind = f["name"], f["type"]
        if value is None:
            if not f["nillable"]:
                raise RecordProblem("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])
            return None
        if kind == "boolean":
            if not isinstance(value, bool):
                raise RecordProblem("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f['label']}: value not of required type: "
                                    f"{value}", [name])
            return value
        if kind in ("int", "double", "currency", "percent"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RecordProblem("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f['label']}: value not of required type: "
                                    f"{value}", [name])
            return value
        if not isinstance(value, str):
            raise RecordProblem("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f['label']}: value not of required type: "
                                f"{value}", [name])
        if kind == "email" and value and not _EMAIL.match(value):
            raise RecordProblem("INVALID_EMAIL_ADDRESS", f"{f['label']}: invalid email address: {value}", [name])
        if kind == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise RecordProblem("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f['label']}: value not of required type: "
                                f"{value}", [name])
        if kind == "reference" and value:
            target = self.object_of(value)
            record = self.find(target, value) if target else None
            if target not in f["referenceTo"] or record is None:
                raise RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if target == "User" and not record["IsActive"]:
                raise RecordProblem("INACTIVE_OWNER_OR_USER", "operation performed with inactive user as owner",
                                    [name])
            return record["Id"]
        if kind in ("string", "phone", "url", "email", "picklist") and len(value) > f["length"] > 0:
            raise RecordProblem("STRING_TOO_LONG", f"{f['label']}: data value too large: {value[:40]} (max length="
                                f"{f['length']})", [name])
        return value

    def check(self, obj: str, values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        defs = self.field_defs(obj)
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name in ("attributes", "Id"):
                continue
            f = defs.get(name)
            if f is None:
                raise RecordProblem("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}", [name])
            if not (f["createable"] if creating else f["updateable"]) or f"{obj}.{name}" in self.config.locked_fields:
                raise RecordProblem("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to {'create' if creating else 'update'}"
                                    f"/update fields: {name}. Please check the security settings of this field and "
                                    "verify that it is read/write for your profile or permission set.", [name])
            out[name] = self._value(obj, f, value)
        if creating:
            missing = [n for n in REQUIRED[obj] if not out.get(n)]
            if missing:
                raise RecordProblem("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                    missing)
        return out

    def _duplicate(self, obj: str, values: Mapping[str, Any], own: str = "") -> str:
        if not self.config.duplicate_rules or obj != "Contact" or not values.get("Email"):
            return ""
        wanted = str(values["Email"]).casefold()
        return next((r["Id"] for r in self.records["Contact"].values()
                     if r["Id"] != own and str(r.get("Email") or "").casefold() == wanted), "")

    def insert(self, obj: str, values: Mapping[str, Any], *, check: bool = True, owner: str = "") -> dict[str, Any]:
        clean = self.check(obj, values, creating=True) if check else dict(values)
        dup = self._duplicate(obj, clean)
        if dup:
            raise RecordProblem("DUPLICATES_DETECTED", "Use one of these records?", [], duplicate_of=dup)
        rid = self.new_id(obj)
        now = self.now()
        record: dict[str, Any] = {f["name"]: None for f in DESCRIBE[obj]}
        record.update({"Id": rid, "CreatedDate": now, "LastModifiedDate": now})
        if "OwnerId" in record:
            record["OwnerId"] = owner or self.user_ids()[0]
        if obj == "Contact":
            record["HasOptedOutOfEmail"] = False
        if obj == "Lead":
            record["Status"] = "Open - Not Contacted"
        if obj == "Task":
            record["Status"] = "Not Started"
            record["TaskSubtype"] = "Task"
        record.update({k: v for k, v in clean.items() if v is not None or k not in ("OwnerId",)})
        if obj == ACR and check:
            self._check_relation(record)
            record["IsDirect"], record["IsActive"] = False, record.get("IsActive") is not False
        self._derive(obj, record)
        self.records[obj][rid] = record
        if obj == "Contact":
            self._direct_relation(record)
        return record

    def modify(self, obj: str, rid: str, values: Mapping[str, Any]) -> dict[str, Any]:
        record = self.find(obj, rid)
        if record is None:
            raise RecordProblem("ENTITY_IS_DELETED" if rid.startswith(PREFIXES.get(obj, "?")) else
                                "MALFORMED_ID", f"entity is deleted or {obj} ID: id value of incorrect type: {rid}")
        clean = self.check(obj, values, creating=False)
        dup = self._duplicate(obj, clean, own=record["Id"])
        if dup:
            raise RecordProblem("DUPLICATES_DETECTED", "Use one of these records?", [], duplicate_of=dup)
        record.update(clean)
        record["LastModifiedDate"] = self.now()
        self._derive(obj, record)
        if obj == "Contact":
            self._direct_relation(record)
        return record

    def delete(self, obj: str, rid: str) -> None:
        record = self.find(obj, rid)
        if record is None:
            raise bad("ENTITY_IS_DELETED", "entity is deleted", status=404)
        if obj == ACR and record["IsDirect"]:
            raise RecordProblem("INVALID_OPERATION", "You can't remove the direct relationship between a contact and "
                                "its primary account. Change the contact's primary account or delete the contact.")
        del self.records[obj][record["Id"]]
        if obj == "Contact":
            for relation in [r for r in self.records[ACR].values() if r["ContactId"] == record["Id"]]:
                del self.records[ACR][relation["Id"]]

    # -- account-contact relations ----------------------------------------------------------------------------------
    def relations_of(self, contact: str) -> list[dict[str, Any]]:
        return [r for r in self.records[ACR].values() if r["ContactId"] == contact]

    def _check_relation(self, record: Mapping[str, Any]) -> None:
        contact = self.find("Contact", str(record.get("ContactId") or ""))
        if contact is None:
            raise RecordProblem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["ContactId"])
        if not contact.get("AccountId"):
            raise RecordProblem("FIELD_INTEGRITY_EXCEPTION", "You can't associate a private contact with an account.",
                                ["ContactId"])
        if any(r["AccountId"] == record.get("AccountId") for r in self.relations_of(contact["Id"])):
            raise RecordProblem("DUPLICATE_VALUE", "duplicate value found: <unknown> duplicates value on record "
                                "with id: <unknown>", [])

    def _direct_relation(self, contact: Mapping[str, Any]) -> None:
        """Keep the direct relation in step with the contact's primary account: a new primary account's relation
        becomes the direct one and the previous primary account stays related, indirectly (Salesforce's default
        when a contact's primary account changes)."""
        account = contact.get("AccountId")
        relations = self.relations_of(contact["Id"])
        for r in relations:
            if r["IsDirect"] and r["AccountId"] != account:
                r["IsDirect"] = False
                if not account:  # a private contact again: it keeps no relation
                    del self.records[ACR][r["Id"]]
        if not account:
            return
        same = next((r for r in relations if r["AccountId"] == account), None)
        if same is not None:
            same["IsDirect"] = True
            return
        self.insert(ACR, {"AccountId": account, "ContactId": contact["Id"], "IsDirect": True, "IsActive": True,
                          "Roles": None, "StartDate": None, "EndDate": None}, check=False)

    def set_relations(self, on: bool) -> None:
        """The org's "Contacts to Multiple Accounts" switch; turning it off deletes every indirect relation (as
        Salesforce does), direct ones stay with their contacts."""
        self.config.account_contact_relations = on
        if not on:
            for rid in [k for k, r in self.records[ACR].items() if not r["IsDirect"]]:
                del self.records[ACR][rid]

    @staticmethod
    def _derive(obj: str, record: dict[str, Any]) -> None:
        if obj in ("Contact", "Lead"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)

    def upsert_one(self, obj: str, key: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        value = values.get(key)
        if not value:
            raise RecordProblem("MISSING_ARGUMENT", f"{key} not specified", [key])
        matches = [r for r in self.records[obj].values() if str(r.get(key) or "").casefold() == str(value).casefold()]
        if len(matches) > 1:
            raise RecordProblem("DUPLICATE_EXTERNAL_ID", f"{key}: more than one record found for external id field: "
                                f"{[r['Id'] for r in matches]}", [key])
        if matches:
            return self.modify(obj, matches[0]["Id"], {k: v for k, v in values.items() if k != key}), False
        return self.insert(obj, values), True

    # -- views -------------------------------------------------------------------------------------------------------
    def attributes(self, obj: str, rid: str) -> dict[str, str]:
        return {"type": obj, "url": f"{DATA}/sobjects/{obj}/{rid}"}

    def view(self, obj: str, record: Mapping[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self.attributes(obj, record["Id"])}
        for name in fields if fields is not None else [f["name"] for f in DESCRIBE[obj]]:
            if "." in name:
                relation, _, sub = name.partition(".")
                target_id = record.get(f"{relation}Id") if relation != "Owner" else record.get("OwnerId")
                target_obj = "User" if relation in ("Owner", "CreatedBy") else relation
                target = self.find(target_obj, target_id) if target_id and target_obj in self.records else None
                if target is None:
                    out[relation] = None
                else:
                    nested = out.get(relation) or {"attributes": self.attributes(target_obj, target["Id"])}
                    nested[sub] = target.get(sub)
                    out[relation] = nested
            else:
                out[name] = record.get(name)
        return out

    def getter(self, obj: str, record: Mapping[str, Any]) -> Any:
        def get(name: str) -> Any:
            if "." in name:
                relation, _, sub = name.partition(".")
                target_id = record.get(f"{relation}Id") if relation != "Owner" else record.get("OwnerId")
                target_obj = "User" if relation == "Owner" else relation
                target = self.find(target_obj, target_id) if target_id and target_obj in self.records else None
                return target.get(sub) if target else None
            return record.get(name)
        return get

    def organization(self) -> dict[str, Any]:
        return {"Id": ORG_ID, "Name": self.config.org_name, "OrganizationType": self.config.edition,
                "IsSandbox": False}

    # -- hooks -------------------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> TokenInfo:
        try:
            return self.tokens.use(request.bearer())
        except TokenProblem:
            raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid") from None

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        if self.allocation is None and not self.config.faults.credits_exhausted:
            self.requests_used += 1
            return {}
        allowed = not self.config.faults.credits_exhausted
        if allowed and self.allocation is not None:
            allowed, _left = self.allocation.spend("org", 1)
        limit = self.allocation.limit if self.allocation else 0
        used = self.allocation.used("org") if self.allocation else limit
        headers = {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}
        if not allowed:
            raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers=headers,
                                  limited_by="daily_allocation")
        self.requests_used += 1
        return headers

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        table = {"unauthorized": (401, "INVALID_SESSION_ID", "Session expired or invalid"),
                 "expired_token": (401, "INVALID_SESSION_ID", "Session expired or invalid"),
                 "not_found": (404, "NOT_FOUND", "The requested resource does not exist"),
                 "method_not_allowed": (405, "METHOD_NOT_ALLOWED", message),
                 "too_large": (413, "REQUEST_ENTITY_TOO_LARGE", message),
                 "bad_request": (400, "JSON_PARSER_ERROR", message),
                 "rate_limited": (403, "REQUEST_LIMIT_EXCEEDED", message),
                 "budget_exhausted": (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                 "gateway_timeout": (504, "SERVER_UNAVAILABLE", message)}
        code, name, text = table.get(kind, (status or 503, "SERVER_UNAVAILABLE", message))
        return SalesforceError(status or code, name, text)

    # -- control API -----------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = super().counts()
        out.update(accounts=len(self.records["Account"]), contacts=len(self.records["Contact"]),
                   leads=len(self.records["Lead"]),
                   tasks=len(self.records["Task"]), users=len(self.records["User"]),
                   account_contact_relations=len(self.records[ACR]),
                   api_requests_used=self.requests_used)
        if self.allocation is not None:
            out["api_requests_left"] = self.allocation.remaining("org")
        return out

    def limits_json(self) -> dict[str, Any]:
        return {"daily_requests": self.allocation.limit if self.allocation else None,
                "requests_left": self.allocation.remaining("org") if self.allocation else None,
                "duplicate_rules": self.config.duplicate_rules,
                "account_contact_relations": self.config.account_contact_relations}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            if name == "daily_requests":
                if value in (None, "off"):
                    self.allocation = None
                else:
                    if self.allocation is None:
                        self.allocation = Budget(int(value), "day", self.config.wall_clock)
                    self.allocation.limit = int(value)
            elif name == "requests_left":
                if self.allocation is None:
                    raise ValueError("there is no daily allocation (set daily_requests first)")
                self.allocation.reset()
                self.allocation.spend("org", max(0, self.allocation.limit - int(value)))
            elif name == "duplicate_rules":
                self.config.duplicate_rules = bool(value)
            elif name == "account_contact_relations":
                self.set_relations(bool(value))
            else:
                raise ValueError(f"unknown limit '{name}' (daily_requests, requests_left, duplicate_rules, "
                                 "account_contact_relations)")
        return self.limits_json()

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self._init_data()
        if self.allocation is not None:
            self.allocation.reset()
        self.requests_used = 0
        if seed:
            self.seed(self.config.seed_contacts, self.config.seed_accounts)

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.seed(*sample_counts(body, ("contacts",), ("accounts", "companies")))

    def seed(self, contacts: int, accounts: int | None = None) -> dict[str, int]:
        rng = random.Random(self.config.random_seed)
        n_accounts = accounts if accounts is not None else contacts // 10
        owners = self.user_ids()
        made = [self.insert("Account", {"Name": f"Sample Company {i + 1}", "Website": f"https://sample{i + 1}.example",
                                        "OwnerId": owners[i % len(owners)]}, check=False)["Id"]
                for i in range(n_accounts)]
        first = ["Ana", "Ben", "Carla", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena"]
        last = ["Garcia", "Smith", "Rossi", "Kim", "Novak", "Okafor", "Silva", "Berg", "Costa", "Ito"]
        for i in range(contacts):
            f, la = rng.choice(first), rng.choice(last)
            values: dict[str, Any] = {"FirstName": f, "LastName": la, "Title": rng.choice(["CEO", "CTO", "VP Sales"]),
                                      "Email": f"{f.lower()}.{la.lower()}.{i + 1}@sample.example",
                                      "OwnerId": owners[i % len(owners)]}
            if made and rng.random() < 0.7:
                values["AccountId"] = made[rng.randrange(len(made))]
            self.insert("Contact", values, check=False)
        return {"contacts": contacts, "accounts": n_accounts}


__all__ = ["ACR", "DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "SalesforceError", "SalesforceSandbox",
           "SalesforceSandboxConfig"]
