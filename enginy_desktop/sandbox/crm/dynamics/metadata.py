"""The Dataverse tables the Dynamics emulator serves, transcribed from Microsoft's published table reference, and
the ``$metadata`` (CSDL) document written from them.

Sources (columns, types, lengths, requirement levels, choices):

- contact: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/reference/entities/contact
- account: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/reference/entities/account
- systemuser: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/reference/entities/systemuser
- email / phonecall / annotation: .../reference/entities/email, .../phonecall, .../annotation
- organization: .../reference/entities/organization
- the Web API entity types (entity set names, lookup properties ``_x_value``, single-valued navigation properties
  such as ``parentcustomerid_account``, ``regardingobjectid_contact_email``, ``objectid_contact``):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/entitytypes
- the CSDL layout (namespace ``Microsoft.Dynamics.CRM``, alias ``mscrm``, ``crmbaseentity`` / ``activitypointer``
  base types): https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/web-api-service-documents

A real environment's ``$metadata`` describes hundreds of tables and every column; this one describes the columns
the emulator keeps (a subset of each table), with the same names and types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

NAMESPACE = "Microsoft.Dynamics.CRM"


@dataclass(frozen=True)
class Column:
    """One column: its logical name, Dataverse ``AttributeType`` and what the metadata says of it."""

    name: str
    kind: str  # AttributeType: String, Memo, Integer, Money, Boolean, DateTime, Picklist, Lookup, Customer, Owner…
    label: str
    create: bool = True
    update: bool = True
    required: str = "None"  # None, ApplicationRequired, SystemRequired, Recommended
    max_length: int | None = None
    options: tuple[tuple[int, str], ...] = ()
    targets: tuple[str, ...] = ()  # lookups: the tables they point to
    format: str = ""  # String format: Email, Phone, Url, Text
    date_only: bool = False


@dataclass(frozen=True)
class Table:
    name: str  # logical name
    entity_set: str
    primary_id: str
    primary_name: str
    columns: tuple[Column, ...]
    navigation: dict[str, tuple[str, str]] = field(default_factory=dict)  # nav property -> (lookup column, table)
    base: str = "crmbaseentity"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _s(name: str, label: str, length: int, fmt: str = "Text", **kw: object) -> Column:
    return Column(name, "String", label, max_length=length, format=fmt, **kw)  # type: ignore[arg-type]


_OWNER = Column("ownerid", "Owner", "Owner", required="SystemRequired", targets=("systemuser", "team"))
_STAMPS = (Column("createdon", "DateTime", "Created On", create=False, update=False),
           Column("modifiedon", "DateTime", "Modified On", create=False, update=False))

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("contact", "contacts", "contactid", "fullname", (
        Column("contactid", "Uniqueidentifier", "Contact", update=False),
        _s("firstname", "First Name", 50, required="Recommended"),
        _s("lastname", "Last Name", 50, required="ApplicationRequired"),
        _s("fullname", "Full Name", 160, create=False, update=False),
        _s("emailaddress1", "Email", 100, "Email"),
        _s("emailaddress2", "Email Address 2", 100, "Email"),
        _s("jobtitle", "Job Title", 100),
        _s("telephone1", "Business Phone", 50, "Phone"),
        _s("mobilephone", "Mobile Phone", 50, "Phone"),
        _s("websiteurl", "Website", 200, "Url"),
        _s("address1_city", "Address 1: City", 80),
        _s("address1_country", "Address 1: Country/Region", 80),
        Column("description", "Memo", "Description", max_length=2000),
        Column("birthdate", "DateTime", "Birthday", date_only=True),
        Column("numberofchildren", "Integer", "No. of Children"),
        Column("donotemail", "Boolean", "Do not allow Emails", options=((0, "Allow"), (1, "Do Not Allow"))),
        Column("gendercode", "Picklist", "Gender", options=((1, "Male"), (2, "Female"))),
        Column("preferredcontactmethodcode", "Picklist", "Preferred Method of Contact",
               options=((1, "Any"), (2, "Email"), (3, "Phone"), (4, "Fax"), (5, "Mail"))),
        Column("parentcustomerid", "Customer", "Company Name", targets=("account", "contact")),
        _OWNER, *_STAMPS,
    ), {"parentcustomerid_account": ("parentcustomerid", "account"),
        "parentcustomerid_contact": ("parentcustomerid", "contact"),
        "ownerid": ("ownerid", "systemuser")}),
    Table("account", "accounts", "accountid", "name", (
        Column("accountid", "Uniqueidentifier", "Account", update=False),
        _s("name", "Account Name", 160, required="ApplicationRequired"),
        _s("websiteurl", "Website", 200, "Url"),
        _s("telephone1", "Main Phone", 50, "Phone"),
        _s("emailaddress1", "Email", 100, "Email"),
        _s("address1_city", "Address 1: City", 80),
        _s("address1_country", "Address 1: Country/Region", 80),
        Column("description", "Memo", "Description", max_length=2000),
        Column("numberofemployees", "Integer", "Number of Employees"),
        Column("revenue", "Money", "Annual Revenue"),
        Column("industrycode", "Picklist", "Industry", options=(
            (1, "Accounting"), (2, "Agriculture and Non-petrol Natural Resource Extraction"),
            (7, "Consulting"), (12, "Financial"), (33, "Service Retail"))),
        _OWNER, *_STAMPS,
    ), {"ownerid": ("ownerid", "systemuser")}),
    Table("systemuser", "systemusers", "systemuserid", "fullname", (
        Column("systemuserid", "Uniqueidentifier", "User", update=False),
        _s("firstname", "First Name", 64),
        _s("lastname", "Last Name", 64),
        _s("fullname", "Full Name", 200, create=False, update=False),
        _s("internalemailaddress", "Primary Email", 100, "Email"),
        _s("domainname", "User Name", 1024),
        Column("isdisabled", "Boolean", "Status", create=False, update=False),
        *_STAMPS,
    ), {}, base="principal"),
    Table("email", "emails", "activityid", "subject", (
        Column("activityid", "Uniqueidentifier", "Email Message", update=False),
        _s("subject", "Subject", 800),
        Column("description", "Memo", "Description", max_length=1_048_576),
        Column("actualend", "DateTime", "Actual End"),
        Column("directioncode", "Boolean", "Direction", options=((0, "Incoming"), (1, "Outgoing"))),
        Column("regardingobjectid", "Lookup", "Regarding", targets=("account", "contact")),
        _OWNER, *_STAMPS,
    ), {"regardingobjectid_contact_email": ("regardingobjectid", "contact"),
        "regardingobjectid_account_email": ("regardingobjectid", "account"),
        "ownerid": ("ownerid", "systemuser")}, base="activitypointer"),
    Table("phonecall", "phonecalls", "activityid", "subject", (
        Column("activityid", "Uniqueidentifier", "Phone Call", update=False),
        _s("subject", "Subject", 200),
        Column("description", "Memo", "Description", max_length=2000),
        Column("actualend", "DateTime", "Actual End"),
        Column("actualdurationminutes", "Integer", "Actual Duration"),
        Column("directioncode", "Boolean", "Direction", options=((0, "Incoming"), (1, "Outgoing"))),
        _s("phonenumber", "Phone Number", 200, "Phone"),
        Column("regardingobjectid", "Lookup", "Regarding", targets=("account", "contact")),
        _OWNER, *_STAMPS,
    ), {"regardingobjectid_contact_phonecall": ("regardingobjectid", "contact"),
        "regardingobjectid_account_phonecall": ("regardingobjectid", "account"),
        "ownerid": ("ownerid", "systemuser")}, base="activitypointer"),
    Table("annotation", "annotations", "annotationid", "subject", (
        Column("annotationid", "Uniqueidentifier", "Note", update=False),
        _s("subject", "Title", 500),
        Column("notetext", "Memo", "Description", max_length=100_000),
        Column("objectid", "Lookup", "Regarding", targets=("account", "contact")),
        _OWNER, *_STAMPS,
    ), {"objectid_contact": ("objectid", "contact"), "objectid_account": ("objectid", "account"),
        "ownerid": ("ownerid", "systemuser")}),
    Table("organization", "organizations", "organizationid", "name", (
        Column("organizationid", "Uniqueidentifier", "Organization", create=False, update=False),
        _s("name", "Name", 160, create=False, update=False),
    ), {}),
)}

BY_SET = {t.entity_set: t for t in TABLES.values()}
LOOKUP_KINDS = ("Lookup", "Customer", "Owner")
EDM = {"String": "Edm.String", "Memo": "Edm.String", "Integer": "Edm.Int32", "Decimal": "Edm.Decimal",
       "Money": "Edm.Decimal", "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset", "Picklist": "Edm.Int32",
       "Uniqueidentifier": "Edm.Guid"}


def property_name(c: Column) -> str:
    """The Web API property of a column: lookups are ``_name_value`` (Edm.Guid)."""
    return f"_{c.name}_value" if c.kind in LOOKUP_KINDS else c.name


def edm_type(c: Column) -> str:
    if c.kind in LOOKUP_KINDS:
        return "Edm.Guid"
    if c.date_only:
        return "Edm.Date"
    return EDM[c.kind]


def csdl() -> str:
    """The ``$metadata`` document (CSDL XML, OData 4.0)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
           "<edmx:DataServices>",
           f'<Schema Namespace="{NAMESPACE}" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
           '<EntityType Name="crmbaseentity" Abstract="true"/>',
           '<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true"/>',
           '<EntityType Name="activitypointer" BaseType="mscrm.crmbaseentity">'
           '<Key><PropertyRef Name="activityid"/></Key>'
           '<Property Name="activityid" Type="Edm.Guid"/></EntityType>']
    for t in TABLES.values():
        keyed = t.base != "activitypointer"
        out.append(f'<EntityType Name="{t.name}" BaseType="mscrm.{t.base}">')
        if keyed:
            out.append(f'<Key><PropertyRef Name="{t.primary_id}"/></Key>')
        for c in t.columns:
            if not keyed and c.name == t.primary_id:
                continue
            length = f' MaxLength="{c.max_length}"' if c.kind in ("String", "Memo") and c.max_length else ""
            scale = ' Scale="Variable"' if c.kind in ("Money", "Decimal") else ""
            out.append(f"<Property Name={quoteattr(property_name(c))} Type=\"{edm_type(c)}\"{length}{scale}/>")
        for nav, (_column, target) in t.navigation.items():
            out.append(f'<NavigationProperty Name="{nav}" Type="mscrm.{target}"/>')
        out.append("</EntityType>")
    out.append('<EntityContainer Name="System">')
    for t in TABLES.values():
        out.append(f'<EntitySet Name="{t.entity_set}" EntityType="mscrm.{t.name}"/>')
    out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(out)
