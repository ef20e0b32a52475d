"""The TribeCRM entity sets the emulator serves, transcribed from TribeCRM's published API reference, and the
``$metadata`` (CSDL XML) document written from them. TribeCRM publishes no machine-readable description outside an
instance (each instance serves ``GET /v1/odata/$metadata``); this document is written from the entity pages:

- Persons (``Relation_Person``; ``LastName`` required; first, middle name, initials, title, suffix, phone, mobile
  phone, e-mail address, birth date; the standard fields ``ID``, ``_Type``, ``_Name``, ``SortIndex``):
  https://developer.tribecrm.nl/docs/api/relations/contacts
- Relations, the base type of persons and organisations: https://developer.tribecrm.nl/docs/api/relations
- Organisations (``Relation_Organization``; ``Name`` required; website, VAT and chamber of commerce numbers,
  phone, number of employees, founding date): https://developer.tribecrm.nl/docs/api/relations/customers and the
  fields Efficy's own n8n node sends (efficy-sa/n8n-nodes-tribecrm ``nodes/TribeCrm/resources/organization.ts``)
- Contacts (``Relationship_Person_Contact_Standard``: a Person at an Organisation, M:N, carrying the business
  ``EmailAddress``, ``PhoneNumber``, ``Department``; ``Person`` and ``Relation`` navigation properties):
  https://developer.tribecrm.nl/docs/api/relationships/contact
- Employees (``Relationship_Person_Contact_Employee``; ``GetCurrentEmployee()``):
  https://developer.tribecrm.nl/docs/api/relationships/employee
- Activities (``Activity_Task``: ``Subject``, ``Description``, ``StartDate``, ``EndDate``, ``Assignee``,
  ``Relationship``; the activity's ``Contact``): https://developer.tribecrm.nl/docs/api/activities and
  efficy-sa/n8n-nodes-tribecrm ``resources/task.ts`` / ``appointment.ts``
- Notes (``Note``, "notes on any entity"): https://developer.tribecrm.nl/docs/api/entity
- Property names in PascalCase as TribeCRM's query examples and Efficy's clients use them (``FirstName``,
  ``EmailAddress``, ``CreationDate``), custom fields named ``_<uuid with - as __>``:
  https://developer.tribecrm.nl/docs/api/concepts/odata

Not published, so chosen here and said in ``docs/sandbox.md``: the owner of a person or organisation
(``AccountManager``, an employee), a note's ``Content``, ``Entity`` and ``Owner``, the activity's ``Contact`` as a
person. A real instance's ``$metadata`` describes many more types and fields; this one only what the emulator keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

NAMESPACE = "Tribe"
LINKEDIN_FIELD = "_6c1f2a9e__4b7d__4e21__9a3c__51d0b7e4c2a8"  # a custom field, as an instance would have one


@dataclass(frozen=True)
class Prop:
    name: str
    type: str = "Edm.String"
    max_length: int | None = None
    required: bool = False
    computed: bool = False
    label: str = ""  # Core.Description (custom fields carry their display name)


@dataclass(frozen=True)
class EntitySet:
    name: str  # the entity set (and type) name
    props: tuple[Prop, ...]
    navigation: dict[str, str] = field(default_factory=dict)  # navigation property -> target entity set
    base: str = "Entity"
    creatable: bool = True

    def prop(self, name: str) -> Prop | None:
        return next((p for p in (*STANDARD, *self.props) if p.name == name), None)

    @property
    def all_props(self) -> tuple[Prop, ...]:
        return (*STANDARD, *self.props)


STANDARD = (
    Prop("ID", "Edm.Guid", computed=True),
    Prop("_Type", computed=True),
    Prop("_Name", computed=True),
    Prop("SortIndex", "Edm.Double", computed=True),
    Prop("CreationDate", "Edm.DateTimeOffset", computed=True),
    Prop("ModificationDate", "Edm.DateTimeOffset", computed=True),
)

_RELATION = (
    Prop("PhoneNumber", max_length=50),
    Prop("EmailAddress", max_length=255),
    Prop("Website", max_length=255),
)

SETS: dict[str, EntitySet] = {s.name: s for s in (
    EntitySet("Relation_Person", (
        Prop("FirstName", max_length=100),
        Prop("MiddleName", max_length=50),
        Prop("LastName", max_length=100, required=True),
        Prop("Initials", max_length=20),
        Prop("Title", max_length=50),
        Prop("Suffix", max_length=20),
        Prop("MobilePhoneNumber", max_length=50),
        Prop("BirthDate", "Edm.Date"),
        Prop("JobTitle", max_length=100),
        *_RELATION,
        Prop(LINKEDIN_FIELD, max_length=255, label="LinkedIn profile"),
    ), {"AccountManager": "Relationship_Person_Contact_Employee"}, base="Relation"),
    EntitySet("Relation_Organization", (
        Prop("Name", max_length=255, required=True),
        Prop("VatNumber", max_length=50),
        Prop("ChamberOfCommerceNumber", max_length=50),
        Prop("NumberOfEmployees", "Edm.Int32"),
        Prop("FoundingDate", "Edm.Date"),
        *_RELATION,
    ), {"AccountManager": "Relationship_Person_Contact_Employee"}, base="Relation"),
    EntitySet("Relationship_Person_Contact_Standard", (
        Prop("EmailAddress", max_length=255),
        Prop("PhoneNumber", max_length=50),
        Prop("MobilePhoneNumber", max_length=50),
        Prop("Department", max_length=100),
    ), {"Person": "Relation_Person", "Relation": "Relation_Organization"}, base="Relationship"),
    EntitySet("Relationship_Person_Contact_Employee", (
        Prop("EmailAddress", max_length=255),
        Prop("PhoneNumber", max_length=50),
        Prop("IsActive", "Edm.Boolean", computed=True),
    ), {"Person": "Relation_Person"}, base="Relationship", creatable=False),
    EntitySet("Activity_Task", (
        Prop("Subject", max_length=255, required=True),
        Prop("Description", max_length=100_000),
        Prop("StartDate", "Edm.DateTimeOffset", required=True),
        Prop("EndDate", "Edm.DateTimeOffset", required=True),
        Prop("IsCompleted", "Edm.Boolean"),
    ), {"Assignee": "Relationship_Person_Contact_Employee", "Contact": "Relation_Person",
        "Relationship": "Relationship_Person_Contact_Standard"}, base="Activity"),
    EntitySet("Note", (
        Prop("Content", max_length=100_000, required=True),
    ), {"Entity": "Relation_Person", "Owner": "Relationship_Person_Contact_Employee"}),
)}


def csdl() -> str:
    """The ``$metadata`` document (CSDL XML, OData 4.0); read-only fields carry ``Core.Computed``."""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
           "<edmx:DataServices>",
           f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
           '<EntityType Name="Entity" Abstract="true"><Key><PropertyRef Name="ID"/></Key>']
    for p in STANDARD:
        out.append(_property(p))
    out.append("</EntityType>")
    for base in ("Relation", "Relationship", "Activity"):
        out.append(f'<EntityType Name="{base}" BaseType="{NAMESPACE}.Entity" Abstract="true"/>')
    for s in SETS.values():
        out.append(f'<EntityType Name="{s.name}" BaseType="{NAMESPACE}.{s.base}">')
        for p in s.props:
            out.append(_property(p))
        for nav, target in s.navigation.items():
            out.append(f'<NavigationProperty Name="{nav}" Type="{NAMESPACE}.{target}"/>')
        out.append("</EntityType>")
    out.append('<EntityContainer Name="Container">')
    for s in SETS.values():
        out.append(f'<EntitySet Name="{s.name}" EntityType="{NAMESPACE}.{s.name}"/>')
    out.append(f'<FunctionImport Name="GetCurrentEmployee" Function="{NAMESPACE}.GetCurrentEmployee"/>')
    out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(out)


def _property(p: Prop) -> str:
    attrs = f"Name={quoteattr(p.name)} Type=\"{p.type}\""
    if p.required or p.name == "ID":
        attrs += ' Nullable="false"'
    if p.max_length:
        attrs += f' MaxLength="{p.max_length}"'
    notes = []
    if p.computed:
        notes.append('<Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/>')
    if p.label:
        notes.append(f'<Annotation Term="Org.OData.Core.V1.Description" String={quoteattr(p.label)}/>')
    return f"<Property {attrs}>{''.join(notes)}</Property>" if notes else f"<Property {attrs}/>"


__all__ = ["LINKEDIN_FIELD", "NAMESPACE", "SETS", "STANDARD", "EntitySet", "Prop", "csdl"]
