"""Normalization by kind (DESIGN §5): real-world variants per kind, and properties that must always hold."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginy_desktop.core.matching import normalize
from enginy_desktop.core.matching.normalize import (
    Kind,
    is_free_mail_domain,
    normalize_column,
    normalize_company_name,
    normalize_domain,
    normalize_email,
    normalize_linkedin_url,
    normalize_person_name,
    normalize_phone,
    normalize_text,
    normalizer_for,
)

# --- person names ------------------------------------------------------------------------------------------

PERSON_NAMES = [
    ("Jane", "jane"),
    ("  JANE  ", "jane"),
    ("José", "jose"),
    ("JOSÉ", "jose"),
    ("Jose\u0301", "jose"),  # decomposed accent
    ("José-María", "jose maria"),
    ("Jean‑Pierre", "jean pierre"),  # non-breaking hyphen
    ("Jean – Pierre", "jean pierre"),  # en dash
    ("O'Brien", "obrien"),
    ("O’Brien", "obrien"),  # typographic apostrophe
    ("D`Angelo", "dangelo"),
    ("d'Artagnan", "dartagnan"),
    ("Mary Jane", "mary jane"),
    ("Mary\tJane", "mary jane"),
    ("Mary\u00a0Jane", "mary jane"),  # no-break space
    ("J. R. R.", "j r r"),
    ("J.R.R.", "jrr"),
    ("Müller", "muller"),
    ("Mueller", "mueller"),  # a different spelling stays different
    ("Straße", "strasse"),
    ("STRASSE", "strasse"),
    ("Søren", "soren"),
    ("Kierkegård", "kierkegard"),
    ("Łukasz", "lukasz"),
    ("Żółć", "zolc"),
    ("Ðorđe", "dorde"),
    ("Çağla", "cagla"),
    ("İpek", "ipek"),
    ("Ilkay Gündoğan", "ilkay gundogan"),
    ("François", "francois"),
    ("Zoë", "zoe"),
    ("Nguyễn", "nguyen"),
    ("Đặng", "dang"),
    ("Dvořák", "dvorak"),
    ("Ærø", "aero"),
    ("Œuvre", "oeuvre"),
    ("Þór", "thor"),
    ("Björk Guðmundsdóttir", "bjork gudmundsdottir"),
    ("Ａｎａ", "ana"),  # fullwidth
    ("Ἀλέξανδρος", "αλεξανδροσ"),  # Greek: accents off, final sigma casefolded
    ("Дмитрий", "дмитрии"),  # Cyrillic short i loses its breve, consistently on both sides
    ("山田", "山田"),
    ("김민준", "김민준"),
    ("Anne-Marie (Annie)", "anne marie annie"),
    ("Smith, Jr.", "smith jr"),
    ("Jane 2", "jane 2"),
]


@pytest.mark.parametrize(("raw", "expected"), PERSON_NAMES)
def test_person_names(raw: str, expected: str) -> None:
    assert normalize_person_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", "'", "...", "-", "—", "()", True, False, float("nan")])
def test_empty_or_punctuation_only_names_are_none(raw: object) -> None:
    assert normalize_person_name(raw) is None
    assert normalize_company_name(raw) is None


def test_design_examples_for_names() -> None:
    assert normalize_person_name("U.S.") == normalize_person_name("US") == "us"
    assert normalize_person_name("O'Brien") == normalize_person_name("OBrien")


# --- company names -----------------------------------------------------------------------------------------

COMPANY_NAMES = [
    # The design's example
    ("ACME, Inc.", "acme"),
    ("Acme Inc", "acme"),
    ("acme", "acme"),
    ("Acme Incorporated", "acme"),
    ("The Acme Company", "acme"),
    ("THE ACME CORP.", "acme"),
    ("Acme Corporation", "acme"),
    ("Acme Co.", "acme"),
    ("Acme & Co.", "acme"),
    ("Acme Co., Ltd.", "acme"),
    ("Acme Limited", "acme"),
    ("Acme LLC", "acme"),
    ("Acme, L.L.C.", "acme"),
    ("Acme PLC", "acme"),
    ("Acme LLP", "acme"),
    ("Acme Pty Ltd", "acme"),
    ("Acme Pty. Limited", "acme"),
    ("Acme Pte. Ltd.", "acme"),
    ("Acme Private Limited", "acme"),
    ("Acme Pvt. Ltd.", "acme"),
    # German-speaking countries
    ("Siemens AG", "siemens"),
    ("Bosch GmbH", "bosch"),
    ("Müller GmbH & Co. KG", "muller"),
    ("Henkel AG & Co. KGaA", "henkel"),
    ("Startup UG (haftungsbeschränkt)", "startup"),
    ("Bäckerei e.K.", "backerei"),
    # France, Spain, Italy, Portugal, Benelux
    ("Danone S.A.", "danone"),
    ("Danone SA", "danone"),
    ("Enginy S.L.", "enginy"),
    ("Enginy SL", "enginy"),
    ("Enginy, S.L.U.", "enginy"),
    ("Dupont SAS", "dupont"),
    ("Dupont S.A.S.", "dupont"),
    ("Dupont SARL", "dupont"),
    ("Acme S.à r.l.", "acme"),
    ("Ferrari S.p.A.", "ferrari"),
    ("Rossi S.r.l.", "rossi"),
    ("Sonae, SGPS, S.A.", "sonae sgps"),
    ("Galp Lda.", "galp"),
    ("Philips N.V.", "philips"),
    ("Booking B.V.", "booking"),
    ("Colruyt BVBA", "colruyt"),
    # Nordics, Baltics
    ("Volvo AB", "volvo"),
    ("Volvo AB (publ)", "volvo"),
    ("Nokia Oyj", "nokia"),
    ("Kone Oy", "kone"),
    ("Equinor ASA", "equinor"),
    ("Møller A/S", "moller"),
    ("Maersk ApS", "maersk"),
    ("Bolt OÜ", "bolt"),
    # Central and Eastern Europe
    ("Allegro Sp. z o.o.", "allegro"),
    ("Skoda s.r.o.", "skoda"),
    ("OTP Kft.", "otp"),
    ("MOL Zrt.", "mol"),
    ("Krka d.d.", "krka"),
    ("Ромашка ООО", "ромашка"),
    # Americas, Asia-Pacific
    ("Cemex S.A.B. de C.V.", "cemex"),
    ("Bimbo, S.A. de C.V.", "bimbo"),
    ("Natura Ltda.", "natura"),
    ("Toyota KK", "toyota"),
    ("Petronas Sdn. Bhd.", "petronas"),
    ("Telkom Tbk", "telkom"),
    # What must stay
    ("AB", "ab"),  # only a legal form: kept, or the name would vanish
    ("The Company", "company"),
    ("The", "the"),
    ("Co", "co"),
    ("Corporate Solutions", "corporate solutions"),  # "corp" inside a word is no legal form
    ("Incorporated Things Ltd", "incorporated things"),
    ("Companies House", "companies house"),
    ("Theory Inc", "theory"),  # "the" only as a whole word
    ("U.S. Steel Corp", "us steel"),
    ("AT&T Inc.", "at t"),
    ("AT & T", "at t"),
    ("Johnson & Johnson", "johnson johnson"),
    ("Procter & Gamble Co.", "procter gamble"),
    ("L'Oréal S.A.", "loreal"),
    ("Nestlé", "nestle"),
    ("3M Company", "3m"),
    ("Acme Holdings Group", "acme holdings group"),  # not legal forms
]


@pytest.mark.parametrize(("raw", "expected"), COMPANY_NAMES)
def test_company_names(raw: str, expected: str) -> None:
    assert normalize_company_name(raw) == expected


def test_hostile_company_name_stays_fast() -> None:
    # Many legal-form words before a word that is none: the engine must not backtrack exponentially.
    hostile = "x " + " ".join(["co ltd"] * 400) + " zzz co"
    assert normalize_company_name(hostile) == "x " + " ".join(["co ltd"] * 400) + " zzz"


# --- emails ------------------------------------------------------------------------------------------------

EMAILS = [
    ("jane@enginy.ai", "jane@enginy.ai"),
    ("  Jane.Doe@Enginy.AI ", "jane.doe@enginy.ai"),
    ("JANE+news@example.com", "jane+news@example.com"),
    ("mailto:jane@enginy.ai", "jane@enginy.ai"),
    ("jane@münchen.de", "jane@münchen.de"),
]


@pytest.mark.parametrize(("raw", "expected"), EMAILS)
def test_emails(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "  ", "jane", "jane@", "@enginy.ai", "jane@@enginy.ai", "ja ne@x.com"])
def test_unparseable_emails_are_none(raw: object) -> None:
    assert normalize_email(raw) is None


# --- LinkedIn URLs -----------------------------------------------------------------------------------------

JANE = "linkedin.com/in/jane-doe"
LINKEDIN = [
    ("https://www.linkedin.com/in/jane-doe", JANE),
    ("https://es.linkedin.com/in/Jane-Doe/?trk=x", JANE),  # the design's example
    ("http://www.linkedin.com/in/jane-doe/", JANE),
    ("https://linkedin.com/in/jane-doe", JANE),
    ("www.linkedin.com/in/jane-doe", JANE),
    ("linkedin.com/in/jane-doe", JANE),
    ("LinkedIn.com/in/JANE-DOE", JANE),
    ("HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE", JANE),
    ("https://m.linkedin.com/in/jane-doe", JANE),
    ("https://uk.linkedin.com/in/jane-doe", JANE),
    ("https://ca.linkedin.com/in/jane-doe/", JANE),
    ("https://touch.www.linkedin.com/in/jane-doe", JANE),
    ("https://www.linkedin.com/mwlite/in/jane-doe", JANE),
    ("https://www.linkedin.com/in/jane-doe?originalSubdomain=es", JANE),
    ("https://www.linkedin.com/in/jane-doe/?locale=en_US#about", JANE),
    ("https://www.linkedin.com/in/jane-doe#experience", JANE),
    ("https://www.linkedin.com/in/jane-doe/en", JANE),  # a language version of the profile
    ("https://www.linkedin.com/in/jane-doe/details/experience/", JANE),
    ("https://www.linkedin.com/in/jane%2Ddoe", JANE),  # percent-encoded
    ("https://www.linkedin.com/in/jane%252Ddoe", JANE),  # encoded twice
    ("  https://www.linkedin.com/in/jane-doe  ", JANE),
    ("https://www.linkedin.com:443/in/jane-doe", JANE),
    ("//www.linkedin.com/in/jane-doe", JANE),
    ("https://www.linkedin.com/in/jos%C3%A9-garc%C3%ADa", "linkedin.com/in/josé-garcía"),
    ("https://www.linkedin.com/in/José-García", "linkedin.com/in/josé-garcía"),
    ("https://www.linkedin.com/in/jose\u0301-garci\u0301a", "linkedin.com/in/josé-garcía"),  # decomposed
    ("https://www.linkedin.com/in/jane-doe-4b2a1c9", "linkedin.com/in/jane-doe-4b2a1c9"),
    ("https://www.linkedin.com/company/Enginy", "linkedin.com/company/enginy"),
    ("https://www.linkedin.com/company/enginy/about/", "linkedin.com/company/enginy"),
    ("https://es.linkedin.com/company/enginy?trk=public", "linkedin.com/company/enginy"),
    ("https://www.linkedin.com/school/mit/", "linkedin.com/school/mit"),
    ("https://www.linkedin.com/showcase/enginy-labs", "linkedin.com/showcase/enginy-labs"),
    ("http://www.linkedin.com/pub/jane-doe/1a/2b/3c", "linkedin.com/pub/jane-doe/1a/2b/3c"),
]


@pytest.mark.parametrize(("raw", "expected"), LINKEDIN)
def test_linkedin_urls(raw: str, expected: str) -> None:
    assert normalize_linkedin_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "https://www.linkedin.com/sales/lead/ACwAAA1234,NAME_SEARCH,abcd",  # Sales Navigator lead
        "https://www.linkedin.com/sales/people/ACwAAA1234,name",
        "https://www.linkedin.com/sales/company/1234",
        "https://www.linkedin.com/talent/profile/AEMAAA",  # Recruiter
        "https://www.linkedin.com/feed/",
        "https://www.linkedin.com/posts/jane-doe_activity-123",
        "https://www.linkedin.com/search/results/people/?keywords=jane",
        "https://www.linkedin.com/profile/view?id=12345",
        "https://www.linkedin.com/in/",
        "https://www.linkedin.com/in/?x=1",
        "https://www.linkedin.com/in/%2e",
        "https://www.linkedin.com",
        "https://lnkd.in/abc123",  # short link: unknown target
        "https://notlinkedin.com/in/jane-doe",
        "https://linkedin.com.evil.example/in/jane-doe",
        "https://www.linkedin.cn/in/jane-doe",
        "jane-doe",
        "in/jane-doe",
        "https://www.linkedin.com/pub/jane-doe",  # an old public URL without its id parts
        "https://www.linkedin.com/in/jane\x00doe",
    ],
)
def test_non_profile_linkedin_urls_are_none(raw: object) -> None:
    assert normalize_linkedin_url(raw) is None


# --- domains -----------------------------------------------------------------------------------------------

DOMAINS = [
    ("enginy.ai", "enginy.ai", "enginy"),
    ("Enginy.AI", "enginy.ai", "enginy"),
    ("www.enginy.ai", "enginy.ai", "enginy"),
    ("blog.enginy.ai", "enginy.ai", "enginy"),  # the design's example
    ("https://www.enginy.ai/", "enginy.ai", "enginy"),
    ("http://enginy.ai:8080/pricing?x=1#top", "enginy.ai", "enginy"),
    ("https://user:secret@app.enginy.ai/login", "enginy.ai", "enginy"),
    ("enginy.ai.", "enginy.ai", "enginy"),
    ("enginy.ai/about", "enginy.ai", "enginy"),
    ("jane@enginy.ai", "enginy.ai", "enginy"),
    ("mailto:Jane@Sales.Enginy.ai", "enginy.ai", "enginy"),
    ("enginy.es", "enginy.es", "enginy"),
    ("www.enginy.com", "enginy.com", "enginy"),
    ("enginy.co.uk", "enginy.co.uk", "enginy"),
    ("shop.enginy.co.uk", "enginy.co.uk", "enginy"),
    ("enginy.com.au", "enginy.com.au", "enginy"),
    ("enginy.com.br", "enginy.com.br", "enginy"),
    ("enginy.co.jp", "enginy.co.jp", "enginy"),
    ("münchen.de", "xn--mnchen-3ya.de", "xn--mnchen-3ya"),
    ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de", "xn--mnchen-3ya"),
    ("XN--MNCHEN-3YA.DE", "xn--mnchen-3ya.de", "xn--mnchen-3ya"),
    ("https://www.München.de/rathaus", "xn--mnchen-3ya.de", "xn--mnchen-3ya"),
    ("straße.de", "xn--strae-oqa.de", "xn--strae-oqa"),
    ("www.bücher。de", "xn--bcher-kva.de", "xn--bcher-kva"),  # ideographic full stop
    ("ｅｎｇｉｎｙ．ａｉ", "enginy.ai", "enginy"),  # fullwidth
    ("acme.github.io", "acme.github.io", "acme"),  # a private suffix: each site is its own
    ("acme.internal", "acme.internal", "acme"),  # unknown extension: taken as a suffix
]


@pytest.mark.parametrize(("raw", "expected", "any_extension"), DOMAINS)
def test_domains(raw: str, expected: str, any_extension: str) -> None:
    assert normalize_domain(raw) == expected
    assert normalize_domain(raw, any_extension=True) == any_extension


def test_include_any_domain_extension() -> None:
    variants = ["enginy.ai", "enginy.es", "www.enginy.com", "enginy.co.uk", "https://enginy.com.au/x"]
    assert {normalize_domain(v, any_extension=True) for v in variants} == {"enginy"}
    assert len({normalize_domain(v) for v in variants}) == len(variants)


FREE_MAIL = [
    "gmail.com",
    "jane@gmail.com",
    "Jane.Doe@GoogleMail.com",
    "outlook.com",
    "outlook.es",
    "jane@hotmail.co.uk",
    "hotmail.fr",
    "live.com",
    "live.co.uk",
    "yahoo.com",
    "jane@yahoo.co.jp",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "proton.me",
    "protonmail.com",
    "yandex.ru",
    "yandex.com",
    "mail.ru",
    "qq.com",
    "163.com",
    "naver.com",
    "orange.fr",
    "libero.it",
    "wp.pl",
    "seznam.cz",
    "zohomail.com",
    "https://mail.google.com.gmail.com/",
]


@pytest.mark.parametrize("raw", FREE_MAIL)
def test_free_mail_domains_are_never_company_identifiers(raw: str) -> None:
    assert normalize_domain(raw) is None
    assert normalize_domain(raw, any_extension=True) is None
    assert is_free_mail_domain(raw)


@pytest.mark.parametrize("raw", ["enginy.ai", "google.com", "microsoft.com", "zoho.com", "jane@enginy.ai", ""])
def test_company_domains_are_not_free_mail(raw: str) -> None:
    assert not is_free_mail_domain(raw)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "  ",
        "enginy",  # a single label
        "localhost",
        "co.uk",  # a public suffix alone
        "github.io",
        "com",
        "192.168.1.10",
        "http://10.0.0.1:8080/x",
        "http://[::1]/",
        "enginy ai",
        "Acme Inc",
        "-enginy.ai",
        "enginy-.ai",
        "en_giny.ai",
        "enginy..ai",
        "xn--zz.de",  # invalid punycode
        "jane@",
        "https://",
        "enginy.ai:http",
        "a" * 64 + ".com",  # a label over 63 characters
    ],
)
def test_unparseable_domains_are_none(raw: object) -> None:
    assert normalize_domain(raw) is None
    assert normalize_domain(raw, any_extension=True) is None


def test_public_suffix_list_is_read_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list ships inside the package; loading it must not touch the network."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Public Suffix List tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    normalize._psl.cache_clear()
    normalize._split_host.cache_clear()
    try:
        assert normalize_domain("https://shop.enginy.co.uk") == "enginy.co.uk"
    finally:
        normalize._psl.cache_clear()
        normalize._split_host.cache_clear()


# --- phones and plain text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+34 600 123 456", "34600123456"),
        ("0034 600-123-456", "34600123456"),
        ("(212) 555-0100", "2125550100"),
        ("+1 (212) 555.0100", "12125550100"),
        ("٠١٢٣٤٥٦٧٨", "012345678"),  # Arabic-Indic digits
        (34600123456, "34600123456"),
        ("123", None),
        ("n/a", None),
        ("", None),
    ],
)
def test_phones(raw: object, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_text() -> None:
    assert normalize_text("  Hello   WORLD ") == "hello world"
    assert normalize_text("Straße") == "strasse"
    assert normalize_text("ＡＢＣ") == "abc"
    assert normalize_text(" ") is None
    assert normalize_text(42) == "42"


def test_normalizer_for_every_kind() -> None:
    for kind in Kind:
        assert callable(normalizer_for(kind))
        assert kind.label
    assert normalizer_for("domain", any_extension=True)("enginy.es") == "enginy"
    assert normalizer_for(Kind.DOMAIN)("enginy.es") == "enginy.es"


# --- columns agree with single values ----------------------------------------------------------------------


ALL_SAMPLES = (
    [r for r, _ in PERSON_NAMES]
    + [r for r, _ in COMPANY_NAMES]
    + [r for r, _ in LINKEDIN]
    + [r for r, _, _ in DOMAINS]
    + FREE_MAIL
    + [None, "", "  ", "line\nbreak", "nul\x00char", "\x01", 12, 3.0, True]
)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("any_extension", [False, True])
def test_column_equals_single_values(kind: Kind, any_extension: bool) -> None:
    single = normalizer_for(kind, any_extension=any_extension)
    values = ALL_SAMPLES * 2
    assert normalize_column(values, kind, any_extension=any_extension) == [single(v) for v in values]


def test_large_column_of_distinct_values_agrees() -> None:
    values = [f"https://www.linkedin.com/in/user-{i}/" if i % 7 else None for i in range(5000)]
    values[10] = "https://www.linkedin.com/sales/lead/x"
    values[11] = "https://www.linkedin.com/in/jos%C3%A9"
    out = normalize_column(values, Kind.LINKEDIN_URL)
    assert out == [normalize_linkedin_url(v) for v in values]
    assert out[1] == "linkedin.com/in/user-1"


def test_column_shares_strings_of_equal_values() -> None:
    out = normalize_column(["José", "Jose", "JOSÉ"] * 3, Kind.PERSON_NAME)
    assert len({id(v) for v in out[:3]}) == 3  # different inputs: their own result
    assert out[0] is out[3] is out[6]


# --- properties --------------------------------------------------------------------------------------------

NAME_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
name_text = st.text(alphabet=NAME_CHARS, max_size=30)
legal_words = st.lists(
    st.sampled_from(sorted(normalize.LEGAL_FORMS | {"the", "acme", "co", "inc", "&", ",", ".", "  "})), max_size=8
).map(" ".join)
company_text = st.one_of(name_text, legal_words, st.tuples(name_text, legal_words).map(" ".join))
url_text = st.one_of(
    st.sampled_from([r for r, _ in LINKEDIN]),
    st.builds(
        lambda host, section, slug, tail: f"https://{host}linkedin.com/{section}/{slug}{tail}",
        st.sampled_from(["", "www.", "es.", "m."]),
        st.sampled_from(["in", "company", "school", "pub", "sales/lead"]),
        st.text(alphabet=NAME_CHARS, min_size=0, max_size=12),
        st.sampled_from(["", "/", "?x=1", "/a/b/c", "#y"]),
    ),
    name_text,
)
domain_text = st.one_of(
    st.sampled_from([r for r, _, _ in DOMAINS] + FREE_MAIL),
    st.builds(
        lambda sub, name, suffix: f"{sub}{name}.{suffix}",
        st.sampled_from(["", "www.", "blog.", "a.b."]),
        st.text(alphabet=st.characters(min_codepoint=45, max_codepoint=0x24F), min_size=1, max_size=12),
        st.sampled_from(["com", "co.uk", "de", "ai", "es", "com.au", "github.io", "xn--p1ai"]),
    ),
    name_text,
)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(name_text)
def test_person_name_is_idempotent(value: str) -> None:
    once = normalize_person_name(value)
    assert once is None or normalize_person_name(once) == once


@SETTINGS
@given(company_text)
def test_company_name_is_idempotent(value: str) -> None:
    once = normalize_company_name(value)
    assert once is None or normalize_company_name(once) == once


@SETTINGS
@given(url_text)
def test_linkedin_url_is_idempotent(value: str) -> None:
    once = normalize_linkedin_url(value)
    assert once is None or normalize_linkedin_url(once) == once


@SETTINGS
@given(domain_text)
def test_domain_is_idempotent(value: str) -> None:
    once = normalize_domain(value)
    assert once is None or normalize_domain(once) == once
    if once is not None:
        assert normalize_domain(once, any_extension=True) == normalize_domain(value, any_extension=True)


@SETTINGS
@given(st.one_of(name_text, st.emails()))
def test_email_phone_text_are_idempotent(value: str) -> None:
    for fn in (normalize_email, normalize_phone, normalize_text):
        once = fn(value)
        assert once is None or fn(once) == once


@SETTINGS
@given(st.lists(st.one_of(st.none(), name_text, company_text, url_text, domain_text), max_size=40))
def test_columns_agree_with_single_values(values: list[str | None]) -> None:
    for kind in Kind:
        single = normalizer_for(kind)
        assert normalize_column(values, kind) == [single(v) for v in values]


@SETTINGS
@given(st.one_of(name_text, company_text, url_text, domain_text))
def test_results_are_never_empty_strings(value: str) -> None:
    for kind in Kind:
        assert normalizer_for(kind)(value) != ""
