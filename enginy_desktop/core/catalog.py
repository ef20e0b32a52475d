"""The 18 integrations Enginy Desktop supports, in the product's order.

Each entry declares how it authenticates and which credential fields its connection dialog asks for. The
catalog is static data: whether an integration is enabled or connected lives in the store and the keyring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    CRM = "crm"
    DATA_ENRICHMENT = "data_enrichment"
    AI_ENRICHMENT = "ai_enrichment"
    IMPORT_SOURCES = "import_sources"
    COMMUNICATION = "communication"

    @property
    def heading(self) -> str:
        return CATEGORY_TITLES[self]

    @property
    def blurb(self) -> str:
        return CATEGORY_BLURBS[self]


CATEGORY_TITLES: dict[Category, str] = {
    Category.CRM: "CRM",
    Category.DATA_ENRICHMENT: "Data Enrichment",
    Category.AI_ENRICHMENT: "AI Enrichment",
    Category.IMPORT_SOURCES: "Import Sources",
    Category.COMMUNICATION: "Communication",
}

CATEGORY_BLURBS: dict[Category, str] = {
    Category.CRM: "Connect a CRM to synchronize and export contacts and companies between Enginy and your CRM "
    "of choice. Only one CRM can be active at a time.",
    Category.DATA_ENRICHMENT: "Plug in your data-enrichment tools to optimize outreach, verify data, and "
    "qualify leads.",
    Category.AI_ENRICHMENT: "Use your own AI subscription for AI variable outputs. Enginy's built-in credits belong "
    "to Enginy's online service: here, connect your own OpenAI key or an OpenAI-compatible server.",
    Category.IMPORT_SOURCES: "Bring company data into Enginy from external sources.",
    Category.COMMUNICATION: "Keep your team informed with notifications from Enginy.",
}


class AuthKind(StrEnum):
    API_KEY = "api_key"
    TOKEN_OR_OAUTH = "token_or_oauth"  # a static token, or OAuth sign-in with the user's own app
    OAUTH = "oauth"  # OAuth sign-in only (the vendor offers no API key)
    WEBHOOK = "webhook"


class FieldKind(StrEnum):
    TEXT = "text"
    URL = "url"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One input of an integration's connection dialog."""

    name: str
    label: str
    secret: bool = False
    required: bool = False
    kind: FieldKind = FieldKind.TEXT
    help: str = ""
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    default: str = ""
    advanced: bool = False
    # Fields of one group are alternatives: the connection is complete when any one group is filled.
    group: str = ""
    # What is wrong with a value entered (None when it is fine); checked before the connection is saved.
    check: Callable[[str], str | None] | None = None


def _rate_limit_problem(value: str, label: str) -> str | None:
    from enginy_desktop.adapters.base import RateLimit

    try:
        RateLimit.parse(value)
    except ValueError:
        return f"{label} must be requests/seconds, e.g. 6000/300."
    return None


@dataclass(frozen=True, slots=True)
class Integration:
    key: str
    name: str
    category: Category
    description: str
    auth: AuthKind
    fields: tuple[CredentialField, ...]
    default_base_url: str = ""
    notice: str = ""
    monogram: str = ""
    #: A CRM that keeps people in one of several objects: (value, what it means, what to mind when chosen), the
    #: first being the default.
    #: Chosen in Step 2 of the CRM wizard (``CrmConfig.people_object``); the adapter reads it as the connection
    #: setting ``contact_object``.
    people_objects: tuple[tuple[str, str, str], ...] = ()
    #: False while Enginy Desktop cannot do this integration's job (no adapter yet): its card and its connection
    #: dialog say so before anything is entered. Set from :data:`NOT_READY_YET`.
    ready: bool = True
    #: The connection dialog's title of a group of fields (``CredentialField.group``) when this integration needs
    #: its own words for it: (group, title).
    group_titles: tuple[tuple[str, str], ...] = ()

    @property
    def not_ready_text(self) -> str:
        """What the card and the connection dialog say while the integration is not :attr:`ready`."""
        if self.ready:
            return ""
        if self.is_crm:
            return (f"Not available yet: Enginy Desktop cannot sync or export with {self.name} yet. You can keep "
                    "its connection details for when it can.")
        if self.category is Category.DATA_ENRICHMENT:
            return (f"Not available yet: Enginy Desktop cannot enrich with {self.name} yet. You can keep its "
                    "connection details for when it can.")
        return f"Not available yet: Enginy Desktop cannot use {self.name} yet."

    @property
    def is_crm(self) -> bool:
        return self.category is Category.CRM

    @property
    def secret_fields(self) -> tuple[CredentialField, ...]:
        return tuple(f for f in self.fields if f.secret)

    @property
    def setting_fields(self) -> tuple[CredentialField, ...]:
        return tuple(f for f in self.fields if not f.secret)

    def get_field(self, name: str) -> CredentialField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def client_credentials(self) -> tuple[CredentialField, CredentialField] | None:
        """The client ID and secret fields of the OAuth client-credentials sign-in (group ``client_credentials``),
        when the integration has one."""
        group = [f for f in self.fields if f.group == "client_credentials"]
        ids = [f for f in group if not f.secret]
        secrets = [f for f in group if f.secret]
        return (ids[0], secrets[0]) if ids and secrets else None

    @property
    def required_groups(self) -> tuple[tuple[CredentialField, ...], ...]:
        """Alternative sets of required fields; a connection is complete when one set is all filled."""
        groups: dict[str, list[CredentialField]] = {}
        for f in self.fields:
            if f.required:
                groups.setdefault(f.group, []).append(f)
        shared = groups.pop("", [])
        if not groups:
            return (tuple(shared),) if shared else ()
        return tuple(tuple(shared + g) for g in groups.values())


def _base_url(default: str) -> CredentialField:
    return CredentialField(
        "base_url",
        "API base URL",
        kind=FieldKind.URL,
        advanced=True,
        placeholder=default,
        help="Leave empty to use the vendor's API. Set it to point Enginy at a sandbox or a proxy.",
    )


def _api_key(label: str = "API key", help: str = "") -> CredentialField:
    return CredentialField("api_key", label, secret=True, required=True, help=help)


_OAUTH_CLIENT = (
    CredentialField(
        "client_id",
        "OAuth client ID",
        required=True,
        group="oauth",
        help="From your own app registration with the vendor; no shared app ships with Enginy Desktop.",
    ),
    CredentialField("client_secret", "OAuth client secret", secret=True, group="oauth"),
)

HUBSPOT_TIERS = ("Free / Starter", "Professional", "Enterprise", "API add-on")
PIPEDRIVE_PLANS = ("Essential", "Advanced", "Professional", "Power", "Enterprise")

INTEGRATIONS: tuple[Integration, ...] = (
    # --- CRM -----------------------------------------------------------------------------------------------
    Integration(
        "hubspot",
        "HubSpot",
        Category.CRM,
        "Full-featured CRM with marketing, sales, and service hubs.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "token",
                "Private app token or service key",
                secret=True,
                required=True,
                group="token",
                placeholder="pat-…",
                help="HubSpot → Settings → Integrations → Private apps (or Service keys).",
            ),
            *_OAUTH_CLIENT,
            CredentialField(
                "tier",
                "HubSpot subscription",
                kind=FieldKind.CHOICE,
                choices=HUBSPOT_TIERS,
                default="Professional",
                help="Sets how fast Enginy may call HubSpot (100, 190 or 250 requests per 10 seconds).",
            ),
            _base_url("https://api.hubapi.com"),
        ),
        default_base_url="https://api.hubapi.com",
        monogram="H",
    ),
    Integration(
        "dynamics",
        "Dynamics",
        Category.CRM,
        "Microsoft Dynamics 365 CRM.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "org_url",
                "Environment URL",
                kind=FieldKind.URL,
                placeholder="https://yourorg.crm.dynamics.com",
                help="Power Platform admin center → Environments → your environment → Environment URL.",
            ),
            CredentialField(
                "client_id",
                "Application (client) ID",
                required=True,
                group="oauth",
                help="Your own Microsoft Entra app registration: a public client (mobile and desktop) with the "
                "redirect URI http://localhost and the Dynamics CRM user_impersonation permission.",
            ),
            CredentialField("tenant_id", "Directory (tenant) ID", placeholder="organizations", group="oauth",
                            help="Leave empty for any work or school account's directory."),
            CredentialField(
                "access_token",
                "Access token",
                secret=True,
                required=True,
                group="token",
                help="Instead of signing in: a bearer token for the environment, e.g. from `az account "
                "get-access-token --resource https://yourorg.crm.dynamics.com`. It expires after about an hour.",
            ),
            CredentialField(
                "login_url",
                "Sign-in URL",
                kind=FieldKind.URL,
                advanced=True,
                placeholder="https://login.microsoftonline.com",
                help="Leave empty for Microsoft's public cloud; a national cloud has its own (e.g. "
                "https://login.microsoftonline.us).",
            ),
            CredentialField(
                "service_protection_limit",
                "Service protection limit",
                advanced=True,
                placeholder="6000/300",
                help="Requests per seconds Enginy keeps to. Leave empty for Dataverse's limit (6,000 requests per "
                "user in any 5 minutes); set it for an environment counted differently.",
                check=lambda value: _rate_limit_problem(value, "Service protection limit"),
            ),
            _base_url("https://yourorg.crm.dynamics.com/api/data/v9.2"),
        ),
        monogram="D",
    ),
    Integration(
        "pipedrive",
        "Pipedrive",
        Category.CRM,
        "Sales-focused CRM built around pipeline management.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "api_token",
                "API token",
                secret=True,
                required=True,
                group="token",
                help="Pipedrive → Personal preferences → API.",
            ),
            *_OAUTH_CLIENT,
            CredentialField(
                "plan",
                "Pipedrive plan",
                kind=FieldKind.CHOICE,
                choices=PIPEDRIVE_PLANS,
                default="Professional",
                help="Sets how fast Enginy may call Pipedrive (20 to 120 requests per 2 seconds with an API token, "
                "four times more with OAuth) and the daily token budget.",
            ),
            CredentialField(
                "seats",
                "Seats",
                placeholder="1",
                help="How many paid seats the Pipedrive company has: the daily token budget is 30,000 × plan "
                "multiplier × seats.",
            ),
            CredentialField(
                "daily_token_budget",
                "Daily token budget",
                advanced=True,
                placeholder="from plan and seats",
                help="The figure on Pipedrive's Company settings → Usage page, if you know it (it replaces the one "
                "worked out from plan and seats).",
            ),
            CredentialField("company_domain", "Company domain", placeholder="yourcompany.pipedrive.com",
                            help="Used with OAuth: API calls go to your company's own Pipedrive address."),
            _base_url("https://api.pipedrive.com"),
        ),
        default_base_url="https://api.pipedrive.com",
        monogram="P",
    ),
    Integration(
        "salesforce",
        "Salesforce",
        Category.CRM,
        "Enterprise CRM platform.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "client_id",
                "Consumer key (client ID)",
                required=True,
                group="oauth",
                help="From your own connected app or external client app (OAuth scopes api and refresh_token, "
                "callback http://localhost:1717/OauthRedirect, PKCE on); no shared app ships with Enginy Desktop.",
            ),
            CredentialField("client_secret", "Consumer secret", secret=True, group="oauth",
                            help="Leave empty for an app that does not require the secret (PKCE is always sent)."),
            CredentialField(
                "login_url",
                "Login URL",
                kind=FieldKind.URL,
                default="https://login.salesforce.com",
                help="Use https://test.salesforce.com for a sandbox org, or your My Domain URL.",
            ),
            CredentialField(
                "access_token",
                "Access token (session ID)",
                secret=True,
                required=True,
                group="token",
                help="Instead of signing in: a session's access token, e.g. from `sf org display`. It stops working "
                "when the session ends; signing in with Salesforce renews itself.",
            ),
            CredentialField(
                "daily_api_requests",
                "Daily API requests",
                advanced=True,
                placeholder="read from Salesforce",
                help="The org's daily API request allocation, if Salesforce should not be asked for it.",
            ),
            _base_url("https://yourdomain.my.salesforce.com"),
        ),
        monogram="S",
        people_objects=(
            ("Contacts", "Contacts, each with its Account (its company, matched or created when you export "
             "associated companies).", ""),
            ("Leads", "Leads, with the company's name in the Lead's Company field (new prospects often start as "
             "Leads).", "Leads have no account: map the company's name to the Lead's Company field (Salesforce "
             "requires it) and export without associated companies. Matching, owners and activities work the "
             "same."),
        ),
    ),
    Integration(
        "tribecrm",
        "TribeCRM",
        Category.CRM,
        "CRM designed for relationship-driven sales teams.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "client_id",
                "Client ID",
                required=True,
                group="oauth",
                help="From your own application in TribeCRM: Configuration → Applications → Authorization Code → "
                "Create New Application, with the redirect URL http://localhost:53682/oauth-callback. Enginy "
                "Desktop asks for the scopes read, write and offline.",
            ),
            CredentialField("client_secret", "Client secret", secret=True, group="oauth",
                            help="The application's secret, shown when you create it in TribeCRM."),
            CredentialField(
                "integration_client_id",
                "Integration client ID",
                required=True,
                group="client_credentials",
                help="Instead of signing in, for an integration account that works without a person: an "
                "application on the Client Credentials tab of Configuration → Applications in TribeCRM. Enginy "
                "works as that application's own user.",
            ),
            CredentialField(
                "integration_client_secret",
                "Integration client secret",
                secret=True,
                required=True,
                group="client_credentials",
                help="That application's secret, kept in the system keyring. Enginy asks TribeCRM for a new access "
                "token before each one expires.",
            ),
            CredentialField(
                "access_token",
                "Access token",
                secret=True,
                required=True,
                group="token",
                advanced=True,
                help="Instead of the two options above: an access token from a Quick Setup application in TribeCRM. "
                "It stops working when it expires (a sign-in or client credentials renew themselves), and is used "
                "before them while it is filled in.",
            ),
            CredentialField(
                "auth_url",
                "Authorization server",
                kind=FieldKind.URL,
                advanced=True,
                default="https://auth.tribecrm.nl",
                help="Use https://auth-staging.tribecrm.nl for TribeCRM's staging environment.",
            ),
            _base_url("https://api.tribecrm.nl"),
        ),
        default_base_url="https://api.tribecrm.nl",
        monogram="T",
    ),
    Integration(
        "zoho",
        "Zoho",
        Category.CRM,
        "CRM suite with sales automation and analytics.",
        AuthKind.TOKEN_OR_OAUTH,
        (
            CredentialField(
                "region",
                "Data centre",
                kind=FieldKind.CHOICE,
                choices=("US (zoho.com)", "EU (zoho.eu)", "IN (zoho.in)", "AU (zoho.com.au)", "JP (zoho.jp)",
                         "CA (zohocloud.ca)", "SA (zoho.sa)", "UK (zoho.uk)", "CN (zoho.com.cn)"),
                default="US (zoho.com)",
                help="Where your Zoho organisation lives (the domain you sign in to Zoho on).",
            ),
            CredentialField("client_id", "Client ID", required=True, group="oauth",
                            help="A server-based client in the Zoho API console (api-console.zoho.com) with the "
                            "redirect URI http://localhost:53682/oauth-callback."),
            CredentialField("client_secret", "Client secret", secret=True, group="oauth"),
            CredentialField("access_token", "Access token", secret=True, required=True, group="token",
                            advanced=True,
                            help="Instead of signing in: an access token made with a Self Client in the Zoho API "
                            "console (scopes ZohoCRM.modules.ALL, ZohoCRM.settings.ALL, ZohoCRM.users.READ, "
                            "ZohoCRM.coql.READ). It lasts one hour."),
            CredentialField("edition", "Zoho CRM edition", kind=FieldKind.CHOICE,
                            choices=("Free", "Standard", "Professional", "Enterprise", "Ultimate"),
                            default="Enterprise",
                            help="Sets the API credits per 24 hours and the concurrent requests Enginy keeps to. "
                            "Test connection reads your organisation's edition and user licences from Zoho and uses "
                            "those from then on; this choice is used until then."),
            CredentialField("user_licences", "User licences", default="1",
                            help="Credits grow with the user licences (e.g. Enterprise: 50,000 + 1,000 per user)."),
            CredentialField("daily_credits", "API credits per 24 h", advanced=True,
                            placeholder="from the edition",
                            help="Your organisation's figure (Setup > APIs and SDKs > API usage), add-ons included."),
            _base_url("https://www.zohoapis.com"),
        ),
        default_base_url="https://www.zohoapis.com",
        monogram="Z",
    ),
    # --- Data enrichment -------------------------------------------------------------------------------------
    Integration(
        "apollo",
        "Apollo",
        Category.DATA_ENRICHMENT,
        "Lead enrichment, email discovery, and engagement tracking to optimize outreach.",
        AuthKind.API_KEY,
        (_api_key(help="Apollo → Settings → Integrations → API keys (a master key, or one scoped to "
                  "people/bulk_match and organizations/bulk_enrich). Enrich… finds work e-mails with their "
                  "status, job titles, LinkedIn URLs and the company's domain, industry, size, revenue and "
                  "location: 1 credit per person or "
                  "company found, nothing when nothing is found. Phones: Apollo sends them only to a webhook."),
         _base_url("https://api.apollo.io/api/v1")),
        default_base_url="https://api.apollo.io/api/v1",
        monogram="A",
    ),
    Integration(
        "cognism",
        "Cognism",
        Category.DATA_ENRICHMENT,
        "Lead generation platform with global databases to identify and connect with prospects.",
        AuthKind.API_KEY,
        (
            _api_key(help="Cognism → Settings → Tokens and API (keys expire after six months). Enrich… matches "
                     "contacts by e-mail, LinkedIn URL or name and company for free and redeems only those whose "
                     "preview shows the e-mail, phone, LinkedIn URL or location you miss: 1 credit per contact "
                     "redeemed, once; job titles and company data (domain, industry, size, revenue) are free."),
            _base_url("https://app.cognism.com/api"),
        ),
        default_base_url="https://app.cognism.com/api",
        monogram="C",
    ),
    Integration(
        "datagma",
        "Datagma",
        Category.DATA_ENRICHMENT,
        "AI-based platform to enrich business insights and help qualify leads effectively.",
        AuthKind.API_KEY,
        (_api_key(help="Datagma → API → Key & DOC. Enrich… finds verified work e-mails (1 credit each), job titles, "
                  "LinkedIn URLs, locations and company data (2 credits per person or company enriched) and "
                  "mobile phones (30 credits each, not for prospects in the EU), from a name and company, a "
                  "LinkedIn URL or an e-mail; nothing is charged when nothing is found, nor for a catch-all "
                  "address."), _base_url("https://gateway.datagma.net/api/ingress")),
        default_base_url="https://gateway.datagma.net/api/ingress",
        monogram="D",
    ),
    Integration(
        "dropcontact",
        "Dropcontact",
        Category.DATA_ENRICHMENT,
        "Updates, enriches, and verifies contact and company data directly within CRMs.",
        AuthKind.API_KEY,
        (_api_key(help="Dropcontact → API. Enrich… finds verified work e-mails (nominative@pro…), phones, job "
                  "titles, LinkedIn URLs and the company's website, industry and size, in batches of 250 "
                  "(submitted, then fetched): 1 credit per record returned with an e-mail, 1 per e-mail sent for "
                  "verification; refunded when nothing is found."), _base_url("https://api.dropcontact.com/v1")),
        default_base_url="https://api.dropcontact.com/v1",
        monogram="D",
    ),
    Integration(
        "hunter",
        "Hunter",
        Category.DATA_ENRICHMENT,
        "Finds and verifies professional email addresses for B2B outreach campaigns.",
        AuthKind.API_KEY,
        (_api_key(help="Hunter → API → API keys. Enrich… finds work e-mails (with job title and LinkedIn when Hunter "
                  "has them), verifies e-mails (valid, accept-all, invalid…) and finds a company's domain, industry, "
                  "size and location: 1 credit per e-mail found, 0.5 per verification, 1 per domain search; "
                  "nothing when nothing is found."),
         _base_url("https://api.hunter.io/v2")),
        default_base_url="https://api.hunter.io/v2",
        monogram="H",
    ),
    Integration(
        "kaspr",
        "Kaspr",
        Category.DATA_ENRICHMENT,
        "Retrieves contact data (emails and phone numbers) from LinkedIn for prospecting.",
        AuthKind.API_KEY,
        (_api_key(help="Kaspr → Settings → API (paid plans). Enrich… finds work e-mails, phones and job titles of "
                  "contacts with a LinkedIn profile URL: 1 work-e-mail credit per e-mail and 1 phone credit per "
                  "phone found, plus 1 export credit per lead revealed; each lead is paid once; nothing when "
                  "nothing is found. Your plan's daily limit of leads applies."),
         _base_url("https://api.developers.kaspr.io")),
        default_base_url="https://api.developers.kaspr.io",
        monogram="K",
    ),
    Integration(
        "lusha",
        "Lusha",
        Category.DATA_ENRICHMENT,
        "Enriches contact data with verified emails, direct dials, and company details.",
        AuthKind.API_KEY,
        (_api_key(help="Lusha → API (Premium and Scale plans). Enrich… finds work e-mails, mobile and direct "
                  "phones, job titles, LinkedIn URLs, location and the company's domain, industry, size and revenue, "
                  "up to 100 people per request: 1 credit per contact or company revealed; none when Lusha finds "
                  "nothing."), _base_url("https://api.lusha.com")),
        default_base_url="https://api.lusha.com",
        monogram="L",
    ),
    Integration(
        "zoominfo",
        "ZoomInfo",
        Category.DATA_ENRICHMENT,
        "Business intelligence tool that offers comprehensive databases to find and qualify leads.",
        AuthKind.OAUTH,
        (
            CredentialField(
                "client_id",
                "Client ID",
                required=True,
                group="client_credentials",
                help="ZoomInfo's current API. From ZoomInfo's Developer Portal → your app: a Client Credentials "
                "app (approved by ZoomInfo, or in its two-week trial) with the api:data:contact and "
                "api:data:company scopes.",
            ),
            CredentialField("client_secret", "Client secret", secret=True, required=True, group="client_credentials"),
            CredentialField(
                "username",
                "Username",
                required=True,
                group="password",
                help="Only for accounts still on ZoomInfo's legacy Enterprise API without a Developer Portal app: "
                "the ZoomInfo user with API access. When both options are filled in, the client ID and secret "
                "are used.",
            ),
            CredentialField("password", "Password", secret=True, required=True, group="password"),
            CredentialField(
                "package",
                "ZoomInfo API package",
                kind=FieldKind.CHOICE,
                choices=("Builder", "Standard", "Scaling"),
                default="Builder",
                help="Sets how fast Enginy may call ZoomInfo (5, 25 or 35 requests a second; ZoomInfo's answers "
                "lower it if your account allows less). Enrich… finds work e-mails, mobile and direct phones, job "
                "titles, LinkedIn URLs, location and the company's domain, industry, size and revenue, 25 people "
                "a request: 1 credit per contact or company returned; nothing when ZoomInfo finds nothing or the "
                "record was already paid for.",
            ),
            _base_url("https://api.zoominfo.com/gtm"),
        ),
        default_base_url="https://api.zoominfo.com/gtm",
        monogram="Z",
        group_titles=(("client_credentials", "Client ID and secret (GTM Data API — pick this one)"),),
    ),
    Integration(
        "proxycurl",
        "Proxycurl",
        Category.DATA_ENRICHMENT,
        "Provides APIs for detailed contact and company profile enrichment.",
        AuthKind.API_KEY,
        (
            _api_key(help="The key of your Proxycurl-compatible service (Enrich Layer: its dashboard shows it). "
                     "Enrich… finds a person's LinkedIn URL, "
                     "job title and location from a name and company (3 credits, 2 even when nothing matches; 1 "
                     "from a LinkedIn URL), work e-mails (3 credits), phones (1 credit per number) and the company's "
                     "domain, industry and size (3 credits); nothing for what is not found (HTTP 404)."),
            CredentialField(
                "base_url",
                "API base URL",
                kind=FieldKind.URL,
                required=True,
                default="https://enrichlayer.com/api/v2",
                help="Enrich Layer (the default) serves Proxycurl's endpoints; enter another compatible "
                "service's base URL to use that one instead.",
            ),
        ),
        default_base_url="https://enrichlayer.com/api/v2",
        notice="Proxycurl's original API closed in July 2025. This card connects to Enrich Layer, a "
        "Proxycurl-compatible service, by default, or to any compatible base URL you enter.",
        monogram="P",
    ),
    # --- AI enrichment ---------------------------------------------------------------------------------------
    Integration(
        "openai",
        "OpenAI",
        Category.AI_ENRICHMENT,
        "If you have your own OpenAI subscription, connect it here to consume your own credits when generating "
        "AI variable outputs instead of using Enginy's built-in credits.",
        AuthKind.API_KEY,
        (
            CredentialField(
                "api_key", "API key", secret=True, required=True, group="openai", placeholder="sk-…",
                help="platform.openai.com → API keys. Your own key: AI columns use your OpenAI credits.",
            ),
            CredentialField(
                "base_url",
                "Server URL",
                required=True,
                group="server",
                kind=FieldKind.URL,
                placeholder="http://localhost:11434/v1",
                help="Any OpenAI-compatible server (Ollama, LM Studio, vLLM…) ending in /v1; its models are read "
                "from /v1/models. Give its key above if it asks for one.",
            ),
            CredentialField(
                "api_style", "API", kind=FieldKind.CHOICE, choices=("Chat Completions", "Responses"),
                default="Chat Completions",
                help="Chat Completions works with every OpenAI-compatible server; Responses is OpenAI's newer API.",
            ),
            CredentialField("organization", "Organization ID (optional)", placeholder="org-…"),
        ),
        default_base_url="https://api.openai.com/v1",
        notice="Enginy's built-in AI credits belong to Enginy's online service, so this desktop app cannot use "
        "them: connect your own OpenAI API key, or an OpenAI-compatible server such as a local model, to run AI "
        "columns here.",
        monogram="AI",
    ),
    # --- Import sources --------------------------------------------------------------------------------------
    Integration(
        "theirstack",
        "TheirStack",
        Category.IMPORT_SOURCES,
        "Aggregates and imports company data from multiple platforms. You can connect your own TheirStack "
        "account. If you do not have one, Enginy's subscription is used and credits are deducted from your "
        "plan when importing companies.",
        AuthKind.API_KEY,
        (
            _api_key(help="TheirStack → Settings → API key."),
            CredentialField(
                "plan", "TheirStack plan", kind=FieldKind.CHOICE, choices=("Free", "Paid"), default="Free",
                help="Sets how fast Enginy may call TheirStack: Free 4/second, 10/minute, 50/hour, 400/day; "
                "paid plans 4/second.",
            ),
            _base_url("https://api.theirstack.com"),
        ),
        default_base_url="https://api.theirstack.com",
        notice="Enginy's subscription credits belong to Enginy's online service, so this desktop app cannot use "
        "them: connect your own TheirStack API key to import companies here (its free count shows how many match "
        "before any credit is spent).",
        monogram="TS",
    ),
    # --- Communication ---------------------------------------------------------------------------------------
    Integration(
        "slack",
        "Slack",
        Category.COMMUNICATION,
        "Connect Slack to enable team communications and workflow notifications from Enginy.",
        AuthKind.WEBHOOK,
        (
            CredentialField(
                "webhook_url",
                "Incoming webhook URL",
                secret=True,
                required=True,
                group="webhook",
                kind=FieldKind.URL,
                placeholder="https://hooks.slack.com/services/…",
                help="Slack → your app → Incoming Webhooks → Add New Webhook to Workspace.",
            ),
            CredentialField(
                "bot_token", "Bot token", secret=True, required=True, group="bot", placeholder="xoxb-…"
            ),
            CredentialField("channel", "Channel", required=True, group="bot", placeholder="#sales-ops"),
            _base_url("https://slack.com/api"),
        ),
        default_base_url="https://slack.com/api",
        monogram="S",
    ),
)

CATEGORY_ORDER: tuple[Category, ...] = tuple(Category)

#: Integrations Enginy Desktop cannot do the job of yet (no adapter behind them). Remove a key when its adapter
#: lands: its card stops saying "Not available yet".
NOT_READY_YET: frozenset[str] = frozenset()
INTEGRATIONS = tuple(dataclasses.replace(i, ready=False) if i.key in NOT_READY_YET else i for i in INTEGRATIONS)
_BY_KEY = {i.key: i for i in INTEGRATIONS}


class UnknownIntegrationError(KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"Unknown integration '{self.key}'. Valid keys: {', '.join(_BY_KEY)}."


def get(key: str) -> Integration:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownIntegrationError(key) from None


#: How a product's name takes a possessive where its short name would read wrong ("Dynamics's").
_POSSESSIVES = {"Dynamics": "Dynamics 365's"}


def possessive(name: str) -> str:
    """``"HubSpot's"``; ``"Dynamics 365's"`` for Dynamics (the product's full name, not "Dynamics's")."""
    return _POSSESSIVES.get(name, f"{name}'s")


def by_category(category: Category) -> tuple[Integration, ...]:
    return tuple(i for i in INTEGRATIONS if i.category is category)


def integration_keys() -> tuple[str, ...]:
    return tuple(_BY_KEY)
