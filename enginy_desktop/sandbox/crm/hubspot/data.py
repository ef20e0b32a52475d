"""Reference data of the HubSpot sandbox: object types, standard properties, association types, owners, and
the deterministic generator of sample contacts and companies."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# --- object types -------------------------------------------------------------------------------------------

# name -> HubSpot object type id
OBJECT_TYPE_IDS: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "calls": "0-48",
    "emails": "0-49",
    "notes": "0-46",
}
SINGULAR: dict[str, str] = {
    "contacts": "contact",
    "companies": "company",
    "calls": "call",
    "emails": "email",
    "notes": "note",
}
ENGAGEMENTS: frozenset[str] = frozenset({"calls", "emails", "notes"})
_ALIASES: dict[str, str] = {
    **{v: k for k, v in OBJECT_TYPE_IDS.items()},
    **{v: k for k, v in SINGULAR.items()},
    **{k: k for k in OBJECT_TYPE_IDS},
}


def resolve_object_type(text: str) -> str | None:
    """``contacts``, ``contact``, ``CONTACT`` or ``0-1`` -> ``contacts``; None when not emulated."""
    return _ALIASES.get(text.strip().lower())


# Properties returned when a request names none.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "calls": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "emails": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# Properties the free-text `query` of a search looks in.
QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email", "phone", "company", "hs_additional_emails"),
    "companies": ("name", "domain", "website", "phone"),
    "calls": ("hs_call_title", "hs_call_body"),
    "emails": ("hs_email_subject", "hs_email_text"),
    "notes": ("hs_note_body",),
}
CREATED_PROPERTY = {"contacts": "createdate", "companies": "createdate"}
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {"calls": ("hs_timestamp",), "emails": ("hs_timestamp",),
                                                   "notes": ("hs_timestamp",)}

# --- properties -------------------------------------------------------------------------------------------------

FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "textarea", "html", "file", "phonenumber"}),
    "number": frozenset({"number", "calculation_equation"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"}),
    "datetime": frozenset({"date"}),
    "date": frozenset({"date"}),
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "phone_number": frozenset({"phonenumber", "text"}),
}

PROPERTY_GROUPS: dict[str, list[tuple[str, str]]] = {
    "contacts": [("contactinformation", "Contact information"), ("sales_properties", "Sales properties"),
                 ("socialmediainformation", "Social media information")],
    "companies": [("companyinformation", "Company information"), ("social_media_information", "Social media"),
                  ("sales_properties", "Sales properties")],
    "calls": [("call", "Call information")],
    "emails": [("email", "Email information")],
    "notes": [("note", "Note information")],
}

LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"), ("lead", "Lead"), ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"), ("customer", "Customer"),
    ("evangelist", "Evangelist"), ("other", "Other"),
]
LEAD_STATUSES = [
    ("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress"), ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"), ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"), ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
]
INDUSTRIES = [
    ("ACCOUNTING", "Accounting"), ("AIRLINES_AVIATION", "Airlines/Aviation"), ("APPAREL_FASHION", "Apparel & Fashion"),
    ("AUTOMOTIVE", "Automotive"), ("BANKING", "Banking"), ("BIOTECHNOLOGY", "Biotechnology"),
    ("BROADCAST_MEDIA", "Broadcast Media"), ("CHEMICALS", "Chemicals"), ("COMPUTER_HARDWARE", "Computer Hardware"),
    ("COMPUTER_NETWORK_SECURITY", "Computer & Network Security"), ("COMPUTER_SOFTWARE", "Computer Software"),
    ("CONSTRUCTION", "Construction"), ("CONSUMER_GOODS", "Consumer Goods"),
    ("EDUCATION_MANAGEMENT", "Education Management"), ("E_LEARNING", "E-Learning"),
    ("FINANCIAL_SERVICES", "Financial Services"), ("FOOD_BEVERAGES", "Food & Beverages"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"), ("HOSPITALITY", "Hospitality"),
    ("INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"), ("INSURANCE", "Insurance"),
    ("INTERNET", "Internet"), ("LEGAL_SERVICES", "Legal Services"),
    ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"), ("MANAGEMENT_CONSULTING", "Management Consulting"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"), ("MEDICAL_DEVICES", "Medical Devices"),
    ("PHARMACEUTICALS", "Pharmaceuticals"), ("REAL_ESTATE", "Real Estate"),
    ("RENEWABLES_ENVIRONMENT", "Renewables & Environment"), ("RETAIL", "Retail"),
    ("STAFFING_AND_RECRUITING", "Staffing and Recruiting"), ("TELECOMMUNICATIONS", "Telecommunications"),
]
COMPANY_TYPES = [("PROSPECT", "Prospect"), ("PARTNER", "Partner"), ("RESELLER", "Reseller"),
                 ("VENDOR", "Vendor"), ("OTHER", "Other")]
EMAIL_DIRECTIONS = [("EMAIL", "Sent by the owner"), ("INCOMING_EMAIL", "Reply"),
                    ("FORWARDED_EMAIL", "Forwarded")]
EMAIL_STATUSES = [("BOUNCED", "Bounced"), ("FAILED", "Failed"), ("SCHEDULED", "Scheduled"),
                  ("SENDING", "Sending"), ("SENT", "Sent")]
CALL_DIRECTIONS = [("INBOUND", "Inbound"), ("OUTBOUND", "Outbound")]
CALL_STATUSES = [(v, v.replace("_", " ").title()) for v in (
    "BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS", "NO_ANSWER",
    "QUEUED", "RINGING")]


@dataclass(frozen=True, slots=True)
class PropertySeed:
    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group: str = ""
    options: tuple[tuple[str, str], ...] = ()
    read_only: bool = False
    calculated: bool = False
    unique: bool = False
    hint: str | None = None
    referenced: str | None = None
    description: str = ""


def _p(name: str, label: str, **kw: Any) -> PropertySeed:
    return PropertySeed(name, label, **kw)


_RO = {"read_only": True}
_DT_RO = {"type": "datetime", "field_type": "date", "read_only": True}
_OWNER = {"type": "enumeration", "field_type": "select", "referenced": "OWNER"}

STANDARD_PROPERTIES: dict[str, list[PropertySeed]] = {
    "contacts": [
        _p("email", "Email", group="contactinformation", hint="email"),
        _p("firstname", "First Name", group="contactinformation"),
        _p("lastname", "Last Name", group="contactinformation"),
        _p("phone", "Phone Number", field_type="phonenumber", group="contactinformation", hint="phone_number"),
        _p("mobilephone", "Mobile Phone Number", field_type="phonenumber", group="contactinformation",
           hint="phone_number"),
        _p("jobtitle", "Job Title", group="contactinformation"),
        _p("company", "Company Name", group="contactinformation"),
        _p("website", "Website URL", group="contactinformation"),
        _p("address", "Street Address", group="contactinformation"),
        _p("city", "City", group="contactinformation"),
        _p("state", "State/Region", group="contactinformation"),
        _p("zip", "Postal Code", group="contactinformation", hint="postal_code"),
        _p("country", "Country/Region", group="contactinformation"),
        _p("hs_linkedin_url", "LinkedIn URL", group="socialmediainformation"),
        _p("linkedinbio", "LinkedIn Bio", field_type="textarea", group="socialmediainformation"),
        _p("hs_additional_emails", "Additional email addresses", group="contactinformation", **_RO),
        _p("hs_email_domain", "Email Domain", group="contactinformation", **_RO),
        _p("lifecyclestage", "Lifecycle Stage", type="enumeration", field_type="radio", group="contactinformation",
           options=tuple(LIFECYCLE_STAGES)),
        _p("hs_lead_status", "Lead Status", type="enumeration", field_type="radio", group="sales_properties",
           options=tuple(LEAD_STATUSES)),
        _p("hubspot_owner_id", "Contact owner", group="sales_properties", **_OWNER),
        _p("associatedcompanyid", "Primary Associated Company ID", type="number", field_type="number",
           group="contactinformation"),
        _p("createdate", "Create Date", group="contactinformation", **_DT_RO),
        _p("lastmodifieddate", "Last Modified Date", group="contactinformation", **_DT_RO),
        _p("notes_last_updated", "Last Activity Date", group="sales_properties", **_DT_RO),
        _p("hs_object_id", "Record ID", type="number", field_type="number", group="contactinformation", **_RO),
    ],
    "companies": [
        _p("name", "Company name", group="companyinformation"),
        _p("domain", "Company Domain Name", group="companyinformation", hint="domain_name"),
        _p("website", "Website URL", group="companyinformation"),
        _p("phone", "Phone Number", field_type="phonenumber", group="companyinformation", hint="phone_number"),
        _p("address", "Street Address", group="companyinformation"),
        _p("city", "City", group="companyinformation"),
        _p("state", "State/Region", group="companyinformation"),
        _p("zip", "Postal Code", group="companyinformation", hint="postal_code"),
        _p("country", "Country/Region", group="companyinformation"),
        _p("industry", "Industry", type="enumeration", field_type="select", group="companyinformation",
           options=tuple(INDUSTRIES)),
        _p("numberofemployees", "Number of Employees", type="number", field_type="number",
           group="companyinformation"),
        _p("annualrevenue", "Annual Revenue", type="number", field_type="number", group="companyinformation"),
        _p("description", "Description", field_type="textarea", group="companyinformation"),
        _p("type", "Type", type="enumeration", field_type="select", group="companyinformation",
           options=tuple(COMPANY_TYPES)),
        _p("lifecyclestage", "Lifecycle Stage", type="enumeration", field_type="radio", group="companyinformation",
           options=tuple(LIFECYCLE_STAGES)),
        _p("linkedin_company_page", "LinkedIn Company Page", group="social_media_information"),
        _p("linkedinbio", "LinkedIn Bio", field_type="textarea", group="social_media_information"),
        _p("hubspot_owner_id", "Company owner", group="sales_properties", **_OWNER),
        _p("num_associated_contacts", "Number of Associated Contacts", type="number", field_type="number",
           group="companyinformation", calculated=True, **_RO),
        _p("createdate", "Create Date", group="companyinformation", **_DT_RO),
        _p("hs_lastmodifieddate", "Last Modified Date", group="companyinformation", **_DT_RO),
        _p("notes_last_updated", "Last Activity Date", group="sales_properties", **_DT_RO),
        _p("hs_object_id", "Record ID", type="number", field_type="number", group="companyinformation", **_RO),
    ],
    "emails": [
        _p("hs_timestamp", "Activity date", type="datetime", field_type="date", group="email"),
        _p("hubspot_owner_id", "Activity assigned to", group="email", **_OWNER),
        _p("hs_email_direction", "Email direction", type="enumeration", field_type="select", group="email",
           options=tuple(EMAIL_DIRECTIONS)),
        _p("hs_email_status", "Email send status", type="enumeration", field_type="select", group="email",
           options=tuple(EMAIL_STATUSES)),
        _p("hs_email_subject", "Email subject", group="email"),
        _p("hs_email_text", "Email body", field_type="textarea", group="email"),
        _p("hs_email_html", "Email HTML body", field_type="html", group="email"),
        _p("hs_email_headers", "Email headers", field_type="textarea", group="email"),
        _p("hs_attachment_ids", "Attachment IDs", group="email"),
        _p("hs_createdate", "Created at", group="email", **_DT_RO),
        _p("hs_lastmodifieddate", "Last modified date", group="email", **_DT_RO),
        _p("hs_object_id", "Record ID", type="number", field_type="number", group="email", **_RO),
    ],
    "calls": [
        _p("hs_timestamp", "Activity date", type="datetime", field_type="date", group="call"),
        _p("hubspot_owner_id", "Activity assigned to", group="call", **_OWNER),
        _p("hs_call_title", "Call title", group="call"),
        _p("hs_call_body", "Call notes", field_type="html", group="call"),
        _p("hs_call_direction", "Call direction", type="enumeration", field_type="select", group="call",
           options=tuple(CALL_DIRECTIONS)),
        _p("hs_call_status", "Call status", type="enumeration", field_type="select", group="call",
           options=tuple(CALL_STATUSES)),
        _p("hs_call_disposition", "Call outcome", group="call"),
        _p("hs_call_duration", "Call duration (ms)", type="number", field_type="number", group="call"),
        _p("hs_call_from_number", "From number", group="call"),
        _p("hs_call_to_number", "To number", group="call"),
        _p("hs_call_recording_url", "Recording URL", group="call"),
        _p("hs_createdate", "Created at", group="call", **_DT_RO),
        _p("hs_lastmodifieddate", "Last modified date", group="call", **_DT_RO),
        _p("hs_object_id", "Record ID", type="number", field_type="number", group="call", **_RO),
    ],
    "notes": [
        _p("hs_timestamp", "Activity date", type="datetime", field_type="date", group="note"),
        _p("hubspot_owner_id", "Activity assigned to", group="note", **_OWNER),
        _p("hs_note_body", "Note body", field_type="html", group="note"),
        _p("hs_attachment_ids", "Attachment IDs", group="note"),
        _p("hs_createdate", "Created at", group="note", **_DT_RO),
        _p("hs_lastmodifieddate", "Last modified date", group="note", **_DT_RO),
        _p("hs_object_id", "Record ID", type="number", field_type="number", group="note", **_RO),
    ],
}

# --- associations ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationType:
    from_type: str
    to_type: str
    type_id: int
    inverse_id: int
    label: str | None = None
    category: str = "HUBSPOT_DEFINED"
    name: str = ""


def _pair(a: str, b: str, ab: int, ba: int, label: str | None = None, suffix: str = "") -> list[AssociationType]:
    return [
        AssociationType(a, b, ab, ba, label, name=f"{SINGULAR[a]}_to_{SINGULAR[b]}{suffix}"),
        AssociationType(b, a, ba, ab, label, name=f"{SINGULAR[b]}_to_{SINGULAR[a]}{suffix}"),
    ]


HUBSPOT_ASSOCIATION_TYPES: list[AssociationType] = [
    *_pair("contacts", "companies", 279, 280, None, "_unlabeled"),
    *_pair("contacts", "companies", 1, 2, "Primary"),
    *_pair("contacts", "emails", 197, 198),
    *_pair("companies", "emails", 185, 186),
    *_pair("contacts", "calls", 193, 194),
    *_pair("companies", "calls", 181, 182),
    *_pair("contacts", "notes", 201, 202),
    *_pair("companies", "notes", 189, 190),
]
PRIMARY_CONTACT_TO_COMPANY = 1
PRIMARY_COMPANY_TO_CONTACT = 2
UNLABELED_CONTACT_TO_COMPANY = 279
UNLABELED_COMPANY_TO_CONTACT = 280
# Pairs whose "default" (most generic) association type is listed first above.
DEFAULT_TYPE: dict[tuple[str, str], int] = {}
for _t in HUBSPOT_ASSOCIATION_TYPES:
    DEFAULT_TYPE.setdefault((_t.from_type, _t.to_type), _t.type_id)

# --- owners ------------------------------------------------------------------------------------------------------

OWNER_NAMES = [
    ("Ana", "García"), ("Marc", "Puig"), ("Laura", "Martín"), ("David", "Smith"), ("Sofia", "Rossi"),
    ("Jonas", "Becker"), ("Emma", "Dubois"), ("Lucas", "Silva"), ("Olivia", "Brown"), ("Noah", "Jensen"),
    ("Chloe", "Martin"), ("Mateo", "López"),
]
OWNER_TEAMS = [("1001", "Sales"), ("1002", "Customer Success")]

# --- sample data ------------------------------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret", "Donald", "Sandra",
    "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle",
    "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie",
    "Jason", "Rebecca", "Edward", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen",
    "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen", "Brenda", "Larry",
    "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen", "Benjamin", "Samantha", "Samuel",
    "Katherine", "Gregory", "Christine", "Alexander", "Debra", "Frank", "Rachel", "Patrick", "Carolyn",
    "Raymond", "Janet", "Jack", "Catherine", "Dennis", "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron",
    "Ruth", "Jose", "Julie", "Adam", "Olivia", "Nathan", "Joyce", "Henry", "Virginia", "Zachary", "Victoria",
    "Douglas", "Kelly", "Peter", "Lauren", "Kyle", "Christina", "Noah", "Joan", "Ethan", "Evelyn", "Jeremy",
    "Judith", "Walter", "Megan", "Christian", "Andrea", "Keith", "Cheryl", "Roger", "Hannah", "Terry",
    "Jacqueline", "Austin", "Martha", "Sean", "Gloria", "Gerald", "Teresa", "Carl", "Ann", "Harold", "Sara",
    "Dylan", "Madison", "Arthur", "Frances", "Lawrence", "Kathryn", "Jordan", "Janice", "Jesse", "Jean",
    "Bryan", "Abigail", "Billy", "Alice", "Bruce", "Judy", "Gabriel", "Sophia", "Joe", "Grace", "Logan",
    "Denise", "Alan", "Amber", "Juan", "Doris", "Albert", "Marilyn", "Willie", "Danielle", "Elijah",
    "Beverly", "Wayne", "Isabella", "Randy", "Theresa", "Vincent", "Diana", "Mason", "Natalie", "Roy",
    "Brittany", "Ralph", "Charlotte", "Bobby", "Marie", "Russell", "Kayla", "Bradley", "Alexis", "Philip",
    "Lori", "Eugene", "Pau", "Núria", "Jordi", "Laia", "Sergi", "Marta", "Álvaro", "Lucía", "Hugo", "Martina",
    "Léa", "Louis", "Chloé", "Mathis", "Lukas", "Mia", "Finn", "Hanna", "Luca", "Giulia", "Matteo", "Sofía",
    "Thiago", "Inês",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez",
    "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart",
    "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez",
    "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin",
    "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina",
    "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb",
    "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Muñoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner",
    "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice",
    "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner",
    "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Puig", "Vidal", "Ferrer", "Serra", "Soler", "Font",
    "Pujol", "Roca", "Müller", "Schneider", "Fischer", "Weber", "Rossi", "Russo", "Ferrari", "Esposito",
    "Bianchi", "Dubois", "Lefebvre", "Moreau", "Laurent", "Girard", "Jensen", "Nielsen", "Hansen",
    "Johansson", "Larsen", "Costa", "Santos", "Oliveira",
)
COMPANY_WORDS_A = (
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Clear", "Core", "Crest", "Delta", "Echo", "Ever", "Falcon",
    "First", "Green", "Harbor", "Iron", "Keystone", "Lumen", "Maple", "Meridian", "North", "Nova", "Oak",
    "Orbit", "Pacific", "Peak", "Pine", "Prime", "Quantum", "Red", "River", "Rock", "Silver", "Sky", "Solar",
    "Spring", "Stone", "Summit", "Swift", "True", "Union", "Vertex", "Vista", "West", "Wild", "Zen", "Atlas",
    "Beacon", "Bold", "Canyon", "Coral", "Ember", "Fjord", "Glacier", "Granite", "Horizon", "Indigo", "Jade",
    "Kite", "Lake", "Lunar", "Mosaic", "Nimbus", "Onyx", "Polar", "Radiant", "Sage", "Terra", "Tidal",
    "Urban", "Velvet",
)
COMPANY_WORDS_B = (
    "Analytics", "Labs", "Systems", "Software", "Solutions", "Dynamics", "Logistics", "Health", "Capital",
    "Partners", "Energy", "Foods", "Media", "Networks", "Robotics", "Security", "Studios", "Works",
    "Ventures", "Bio", "Cloud", "Data", "Digital", "Consulting", "Group", "Industries", "Interactive",
    "Motors", "Pharma", "Retail", "Telecom", "Travel", "Learning", "Finance", "Insurance", "Realty",
    "Apparel", "Design", "Devices",
)
LEGAL_FORMS = ("", "", "", " Inc.", " LLC", " Ltd", " GmbH", " S.L.", " SAS", " B.V.")
TLDS = (".com", ".com", ".com", ".io", ".co", ".ai", ".net", ".es", ".de", ".fr", ".co.uk", ".nl")
CITIES = [
    ("Barcelona", "Spain"), ("Madrid", "Spain"), ("London", "United Kingdom"), ("Manchester", "United Kingdom"),
    ("Paris", "France"), ("Lyon", "France"), ("Berlin", "Germany"), ("Munich", "Germany"),
    ("Amsterdam", "Netherlands"), ("Milan", "Italy"), ("Lisbon", "Portugal"), ("Dublin", "Ireland"),
    ("New York", "United States"), ("San Francisco", "United States"), ("Austin", "United States"),
    ("Boston", "United States"), ("Toronto", "Canada"), ("Stockholm", "Sweden"), ("Copenhagen", "Denmark"),
]
JOB_TITLES = (
    "CEO", "CTO", "CFO", "COO", "VP Sales", "VP Marketing", "Head of Growth", "Sales Manager",
    "Account Executive", "Sales Development Representative", "Marketing Manager", "Product Manager",
    "Software Engineer", "Operations Manager", "Customer Success Manager", "Founder", "Head of Partnerships",
    "Revenue Operations Manager", "Data Analyst", "HR Director",
)

_ASCII = str.maketrans("áàäâãåçéèëêíìïîñóòöôõúùüûÁÀÄÂÃÅÇÉÈËÊÍÌÏÎÑÓÒÖÔÕÚÙÜÛ",
                       "aaaaaaceeeeiiiinooooouuuuAAAAAACEEEEIIIINOOOOOUUUU")


@functools.lru_cache(maxsize=4096)
def slug(text: str) -> str:
    return "".join(ch for ch in text.translate(_ASCII).lower() if ch.isalnum() or ch == "-")


@dataclass(slots=True)
class SampleCompany:
    properties: dict[str, str]


@dataclass(slots=True)
class SampleContact:
    properties: dict[str, str]
    company_index: int | None  # index into the generated companies, for the primary association
    extra_company_index: int | None = None
    extras: dict[str, str] = field(default_factory=dict)


def sample_companies(count: int, seed: int, owner_ids: list[str]) -> Iterator[SampleCompany]:
    """Deterministic companies with unique names and domains."""
    rng = random.Random(seed * 7919 + 1)
    seen: set[str] = set()
    n_a, n_b = len(COMPANY_WORDS_A), len(COMPANY_WORDS_B)
    for i in range(count):
        a = COMPANY_WORDS_A[rng.randrange(n_a)]
        b = COMPANY_WORDS_B[rng.randrange(n_b)]
        base = f"{a} {b}"
        root = slug(a + b)
        tld = TLDS[rng.randrange(len(TLDS))]
        domain = root + tld
        if domain in seen:
            base = f"{a} {b} {i}"
            domain = f"{root}{i}{tld}"
        seen.add(domain)
        city, country = CITIES[rng.randrange(len(CITIES))]
        industry = INDUSTRIES[rng.randrange(len(INDUSTRIES))][0]
        props = {
            "name": base + LEGAL_FORMS[rng.randrange(len(LEGAL_FORMS))],
            "domain": domain,
            "website": f"https://www.{domain}",
            "city": city,
            "country": country,
            "industry": industry,
            "numberofemployees": str(rng.choice((5, 12, 25, 50, 120, 250, 600, 1500, 5000))),
            "linkedin_company_page": f"https://www.linkedin.com/company/{root}",
            "lifecyclestage": "lead" if rng.random() < 0.7 else "customer",
        }
        if owner_ids and rng.random() < 0.6:
            props["hubspot_owner_id"] = owner_ids[rng.randrange(len(owner_ids))]
        yield SampleCompany(props)


def sample_contacts(
    count: int, seed: int, companies: list[dict[str, str]], owner_ids: list[str], associate_ratio: float
) -> Iterator[SampleContact]:
    """Deterministic contacts with unique emails; most work at one of ``companies`` (by index)."""
    rng = random.Random(seed * 104729 + 2)
    seen: set[str] = set()
    n_first, n_last, n_comp = len(FIRST_NAMES), len(LAST_NAMES), len(companies)
    free_mail = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com")
    for i in range(count):
        first = FIRST_NAMES[rng.randrange(n_first)]
        last = LAST_NAMES[rng.randrange(n_last)]
        company_index = rng.randrange(n_comp) if n_comp and rng.random() < associate_ratio else None
        domain = companies[company_index]["domain"] if company_index is not None else free_mail[i % 4]
        local = f"{slug(first)}.{slug(last)}"
        email = f"{local}@{domain}"
        if email in seen:
            email = f"{local}{i}@{domain}"
        seen.add(email)
        city, country = CITIES[rng.randrange(len(CITIES))]
        props = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "jobtitle": JOB_TITLES[rng.randrange(len(JOB_TITLES))],
            "city": city,
            "country": country,
            "lifecyclestage": "lead",
        }
        if rng.random() < 0.8:
            props["hs_linkedin_url"] = f"https://www.linkedin.com/in/{slug(first)}-{slug(last)}-{i:x}"
        if rng.random() < 0.5:
            props["phone"] = f"+34 6{rng.randrange(10_000_000, 99_999_999)}"
        if company_index is not None:
            props["company"] = companies[company_index]["name"]
            props["website"] = companies[company_index]["website"]
        if owner_ids and rng.random() < 0.5:
            props["hubspot_owner_id"] = owner_ids[rng.randrange(len(owner_ids))]
        extra = None
        if company_index is not None and n_comp > 1 and rng.random() < 0.05:
            extra = (company_index + 1 + rng.randrange(n_comp - 1)) % n_comp
        yield SampleContact(props, company_index, extra)
