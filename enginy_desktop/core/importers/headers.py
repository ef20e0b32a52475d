"""Which Enginy field a CSV column probably holds, from its header.

The tables cover the headers of the exports sales-ops users bring most often — LinkedIn Sales Navigator (and
the tools that export it), Apollo, HubSpot and Salesforce — in English and Spanish. Headers are compared by a
key that ignores case, accents, spaces and punctuation, so "E-mail", "Email" and "email" are one header and
"Correo electrónico" matches "correo electronico". A header that is not in the tables is kept as a custom
field; nothing is dropped unless the user says so.
"""

from __future__ import annotations

import unicodedata

from enginy_desktop.core.fields import RecordKind


def header_key(header: str) -> str:
    """Lowercase letters and digits only, accents removed: the key the alias tables are written in."""
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _table(entries: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Alias key -> field; the field's own name (``first_name``) and label-like spellings are aliases too."""
    out: dict[str, str] = {}
    for field, headers in entries.items():
        for h in (field, *headers):
            key = header_key(h)
            if out.setdefault(key, field) != field:
                raise ValueError(f"header {h!r} is listed for both {out[key]} and {field}")
    return out


CONTACT_HEADERS: dict[str, str] = _table(
    {
        "first_name": (
            "First Name", "First", "Given Name", "Nombre", "Nombre de pila", "Primer nombre",
        ),
        "last_name": (
            "Last Name", "Last", "Surname", "Family Name", "Apellidos", "Apellido",
            "Primer apellido",
        ),
        "full_name": (
            "Full Name", "Name", "Contact Name", "Lead Name", "Person Name", "Nombre completo",
            "Nombre y apellidos", "Nombre del contacto",
        ),
        "email": (
            "Email", "E-mail", "Email Address", "E-mail Address", "Work Email", "Business Email", "Email 1",
            "Primary Email", "Correo", "Correo electrónico", "Dirección de correo electrónico",
            "Correo electrónico del trabajo", "Email del trabajo", "Email corporativo",
        ),
        "phone": (
            "Phone", "Phone Number", "First Phone", "Work Direct Phone", "Work Phone", "Business Phone",
            "Direct Phone", "Teléfono", "Número de teléfono", "Teléfono del trabajo", "Teléfono directo",
        ),
        "mobile": (
            "Mobile", "Mobile Phone", "Mobile Phone Number", "Cell Phone", "Móvil", "Teléfono móvil",
            "Número de teléfono móvil", "Celular",
        ),
        "job_title": (
            "Title", "Job Title", "Position", "Role", "Current Title", "Cargo", "Puesto", "Título",
            "Puesto de trabajo", "Cargo actual",
        ),
        "seniority": ("Seniority", "Seniority Level", "Antigüedad", "Nivel", "Nivel de antigüedad"),
        "department": ("Department", "Departments", "Departamento", "Departamentos", "Área"),
        "linkedin_url": (
            "Person Linkedin Url", "LinkedIn URL", "Linkedin", "LinkedIn Profile", "LinkedIn Profile URL",
            "Profile URL", "linkedInProfileUrl", "Public Profile URL", "Person LinkedIn", "URL del perfil",
            "URL de LinkedIn", "Perfil de LinkedIn", "URL del perfil de LinkedIn", "LinkedIn del contacto",
        ),
        "company_name": (
            "Company", "Company Name", "Company Name for Emails", "Account Name", "Organization",
            "Organization Name", "Current Company",
            "Employer", "Empresa", "Nombre de la empresa", "Nombre de la cuenta", "Compañía", "Organización",
            "Empresa actual",
        ),
        "company_domain": (
            "Company Domain", "Domain", "Company Domain Name", "Website Domain", "Email Domain", "Dominio",
            "Dominio de la empresa", "Nombre de dominio de la empresa",
        ),
        "company_linkedin_url": (
            "Company Linkedin Url", "Company LinkedIn", "Company LinkedIn Page", "Company Profile URL",
            "LinkedIn Company Page", "Organization LinkedIn URL", "LinkedIn de la empresa",
            "URL de LinkedIn de la empresa", "Página de LinkedIn de la empresa",
        ),
        "location": ("Location", "Geography", "Person Location", "Ubicación", "Localización", "Región"),
        "city": ("City", "Mailing City", "Person City", "Ciudad", "Ciudad de correo", "Localidad"),
        "country": (
            "Country", "Country/Region", "Mailing Country", "Person Country", "País", "País/región",
            "País de correo",
        ),
        "website": (
            "Website", "Website URL", "Company Website", "Company URL", "Web", "Sitio web",
            "URL del sitio web", "Página web", "Web de la empresa",
        ),
        "notes": ("Notes", "Note", "Description", "Comments", "Notas", "Nota", "Descripción", "Comentarios"),
        "source": (
            "Source", "Lead Source", "Original Source", "Origen", "Fuente", "Origen del candidato",
            "Origen del lead", "Fuente original",
        ),
    }
)

COMPANY_HEADERS: dict[str, str] = _table(
    {
        "name": (
            "Company", "Company Name", "Company Name for Emails", "Name", "Account Name", "Organization",
            "Organization Name", "Empresa",
            "Nombre", "Nombre de la empresa", "Nombre de la cuenta", "Compañía", "Organización",
            "Razón social",
        ),
        "domain": (
            "Domain", "Company Domain", "Company Domain Name", "Website Domain", "Dominio",
            "Dominio de la empresa", "Nombre de dominio de la empresa",
        ),
        "website": (
            "Website", "Website URL", "Company Website", "Company URL", "Web", "Sitio web", "URL del sitio web",
            "Página web",
        ),
        "linkedin_url": (
            "LinkedIn URL", "Company Linkedin Url", "LinkedIn", "LinkedIn Company Page", "Company LinkedIn",
            "LinkedIn Page", "Company Profile URL", "URL de LinkedIn", "LinkedIn de la empresa",
            "Página de LinkedIn", "URL de LinkedIn de la empresa",
        ),
        "industry": ("Industry", "Industries", "Sector", "Industria", "Sector de actividad"),
        "size": (
            "Company Size", "Size", "Employee Range", "Company Headcount Range", "Tamaño de la empresa",
            "Tamaño", "Rango de empleados",
        ),
        "employee_count": (
            "# Employees", "Employees", "Number of Employees", "No. of Employees", "Employee Count",
            "Headcount", "Company Headcount", "Número de empleados", "Empleados", "Nº de empleados",
        ),
        "country": (
            "Country", "Country/Region", "Company Country", "Billing Country", "HQ Country", "País",
            "País/región", "País de facturación",
        ),
        "city": ("City", "Company City", "Billing City", "HQ City", "Ciudad", "Ciudad de facturación"),
        "phone": (
            "Phone", "Phone Number", "Company Phone", "Corporate Phone", "Teléfono", "Número de teléfono",
            "Teléfono de la empresa",
        ),
        "description": (
            "Description", "Company Description", "SEO Description", "About", "Short Description",
            "Descripción", "Descripción de la empresa",
        ),
        "source": ("Source", "Lead Source", "Original Source", "Origen", "Fuente", "Fuente original"),
    }
)


def suggest_field(kind: RecordKind | str, header: str) -> str | None:
    """The field a column titled ``header`` most likely holds, or None (keep it as a custom field)."""
    table = CONTACT_HEADERS if RecordKind(kind) is RecordKind.CONTACT else COMPANY_HEADERS
    return table.get(header_key(header))
