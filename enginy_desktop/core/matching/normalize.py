"""Normalization of identifier values before they are compared (DESIGN §5).

Both sides of a comparison — the local record and the CRM record — go through the same function for the
field's :class:`Kind`. Every normalizer returns a non-empty string, or ``None`` when the value is empty or
cannot be understood. ``None`` is not a value: it never matches anything, not even another ``None``.

A sync normalizes millions of values, so :func:`normalize_column` does it a column at a time: names and
LinkedIn URLs are joined one per line into one string and transformed by ``str`` methods and regular
expressions with constant replacements, which run in C; repeated values (first names, companies, domains)
are normalized once. The single-value functions are the specification and run the very same code on a column
of one, so both paths always agree (a property test holds them to it).

Domains are reduced with the Public Suffix List bundled in the ``publicsuffixlist`` package, read from disk
once, and consulted through a cache; nothing here touches the network.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import suppress
from enum import StrEnum
from functools import cache, lru_cache
from itertools import compress
from operator import not_
from typing import Any
from urllib.parse import unquote

__all__ = [
    "FREE_MAIL_DOMAINS",
    "FREE_MAIL_FAMILIES",
    "LEGAL_FORMS",
    "Kind",
    "Normalizer",
    "is_free_mail_domain",
    "normalize_column",
    "normalize_company_name",
    "normalize_domain",
    "normalize_email",
    "normalize_linkedin_url",
    "normalize_person_name",
    "normalize_phone",
    "normalize_text",
    "normalizer_for",
]

Normalizer = Callable[[Any], "str | None"]


class Kind(StrEnum):
    """How the values of a condition's fields are normalized before comparison."""

    PERSON_NAME = "person_name"
    COMPANY_NAME = "company_name"
    EMAIL = "email"
    LINKEDIN_URL = "linkedin_url"
    DOMAIN = "domain"
    PHONE = "phone"
    TEXT = "text"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    Kind.PERSON_NAME: "Person name",
    Kind.COMPANY_NAME: "Company name",
    Kind.EMAIL: "Email address",
    Kind.LINKEDIN_URL: "LinkedIn URL",
    Kind.DOMAIN: "Domain",
    Kind.PHONE: "Phone number",
    Kind.TEXT: "Exact text (ignoring case and spacing)",
}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # a checkbox is not an identifier
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return None
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return str(value)


# --- names ------------------------------------------------------------------------------------------------

# Dropped outright: U.S. = US, O'Brien = OBrien.
_DROPPED = frozenset("'.’‘‛ʼʻ`´′ˈ＇")

# Letters that carry a stroke or are ligatures: no Unicode decomposition removes their "accent".
_LETTER_FOLDS = {
    "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ı": "i", "ȷ": "j", "ƒ": "f",
    "æ": "ae", "œ": "oe", "þ": "th", "ß": "ss", "ŀ": "l", "ĸ": "k", "ŋ": "n", "ƀ": "b", "ɨ": "i",
}  # fmt: skip

# Scripts whose diacritics are accents (Latin, IPA, Greek, Cyrillic, Latin Extended Additional incl.
# Vietnamese, Greek Extended). Elsewhere (Devanagari, kana…) combining marks are part of the letter and stay.
_ACCENT_RANGES = ((0x00C0, 0x052F), (0x1E00, 0x1FFF))


def _has_accent_script(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _ACCENT_RANGES)


class _FoldTable(dict[int, "str | None"]):
    """``str.translate`` table for names that computes each code point's fold on first sight.

    The input is already NFKC-normalized and casefolded. Letters and digits stay (accents removed in accent
    scripts), apostrophes and periods vanish, every other character (punctuation, symbols, hyphens, spaces,
    controls) becomes a space that the caller collapses.
    """

    def __missing__(self, cp: int) -> str | None:
        result = self._fold(chr(cp))
        self[cp] = result
        return result

    @staticmethod
    def _fold(ch: str) -> str | None:
        if ch in _DROPPED:
            return None
        if ch in _LETTER_FOLDS:
            return _LETTER_FOLDS[ch]
        category = unicodedata.category(ch)
        if category[0] == "M":
            # A mark left alone by NFKC (e.g. the dot of a casefolded "İ"): an accent in accent scripts.
            return "" if 0x0300 <= ord(ch) <= 0x036F or 0x1AB0 <= ord(ch) <= 0x1AFF else ch
        if category[0] not in "LN":
            return " "
        if ch.isascii() or not _has_accent_script(ord(ch)):
            return ch
        stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        stripped = "".join(_LETTER_FOLDS.get(c, c) for c in stripped)
        return stripped or ch


_NAME_TABLE = _FoldTable()
for _cp in range(128):
    _NAME_TABLE[_cp] = _FoldTable._fold(chr(_cp))
# Lines of a batch are folded together, separated by newlines; a value's own line breaks are spaces already.
_NAME_TABLE[ord("\n")] = "\n"

_MULTI_SPACE = re.compile("  +")


def _blob_lines(values: list[str]) -> str | None:
    """Join values one per line, or None when a value holds a line break or NUL (the batch separators)."""
    blob = "\n".join(values)
    if "\x00" in blob or blob.count("\n") != len(values) - 1:
        return None
    return blob


def _fold_blob(blob: str) -> str:
    """Fold names, one per line: NFKC, casefold, accents off, apostrophes and periods dropped, other
    punctuation a space, spaces collapsed and trimmed. Every step works character by character, so folding
    the lines together is folding each line."""
    if blob.isascii():
        blob = blob.lower().translate(_NAME_TABLE)
    else:
        for _ in range(4):
            blob = unicodedata.normalize("NFKC", blob).casefold().translate(_NAME_TABLE)
            # Dropping an apostrophe or an accent can bring together characters that NFKC composes (Hangul
            # jamo, for one): fold again until nothing changes, so that a folded name folds to itself.
            if unicodedata.is_normalized("NFKC", blob) and blob.casefold() == blob:
                break
    if "  " in blob:
        blob = _MULTI_SPACE.sub(" ", blob)
    return blob.replace(" \n", "\n").replace("\n ", "\n").strip(" ")


def _lines_apart(values: list[str], blob: str, transform: Callable[[str], str]) -> list[str]:
    """``transform`` (which maps a text of lines to a text of as many lines) applied to ``blob``, the values
    one per line. Non-ASCII text costs far more per character (case mapping, translation tables), so when
    some values are not ASCII the ASCII ones (nearly all, usually) are transformed apart."""
    if blob.isascii():
        return transform(blob).split("\n")
    plain = [v.isascii() for v in values]
    ascii_lines = iter(transform("\n".join(compress(values, plain))).split("\n"))
    other_lines = iter(transform("\n".join(compress(values, map(not_, plain)))).split("\n"))
    return [next(ascii_lines) if p else next(other_lines) for p in plain]


def _fold_lines(values: list[str]) -> list[str]:
    """Fold many names at C speed."""
    if not values:
        return []
    blob = _blob_lines(values)
    if blob is None:
        return [_fold_name(v) for v in values]
    return _lines_apart(values, blob, _fold_blob)


def _fold_name(text: str) -> str:
    return _fold_blob(text.replace("\n", " ").replace("\x00", " "))


def _person_names(values: list[str]) -> list[str | None]:
    return [line or None for line in _fold_lines(values)]


def normalize_person_name(value: Any) -> str | None:
    """``"  José-María O'Brien "`` -> ``"jose maria obrien"``."""
    text = _as_text(value)
    if not text:
        return None
    return _fold_name(text) or None


# Trailing legal forms, written as they read after name folding (periods dropped, other punctuation a space):
# "S.A. de C.V." -> "sa de cv", "Sp. z o.o." -> "sp z oo", "A/S" -> "a s", "S.à r.l." -> "sa rl".
LEGAL_FORMS: frozenset[str] = frozenset(
    {
        # English-speaking countries
        "inc", "incorporated", "llc", "l l c", "ltd", "limited", "plc", "corp", "corporation", "co",
        "company", "lp", "llp", "pllc", "lc", "pty", "pty ltd", "proprietary limited", "pte", "pte ltd",
        "pvt", "pvt ltd", "private limited", "co ltd", "company limited", "ltd co", "cic", "cio",
        "unlimited", "ulc",
        # German-speaking countries
        "gmbh", "ag", "kg", "ohg", "gbr", "ug", "ug haftungsbeschrankt", "gmbh co kg", "ag co kg",
        "gmbh co", "kgaa", "ek", "ev", "mbh", "se", "e u",
        # France, Belgium, Luxembourg, Switzerland, Spain, Portugal, Italy, Latin America
        "sa", "sas", "sasu", "sarl", "sa rl", "eurl", "sca", "scs", "snc", "sci", "scop", "sprl", "srl",
        "bvba", "cvba", "vzw", "asbl", "sl", "slu", "sll", "slne", "scp", "lda", "ltda", "unipessoal lda",
        "spa", "sapa", "sagl", "sa de cv", "sab de cv", "sapi de cv", "s de rl", "s de rl de cv", "sac",
        "saa", "sae", "saic", "sacifi", "eireli",
        # Netherlands, Nordics, Baltics
        "bv", "nv", "vof", "cv", "oy", "oyj", "ab", "ab publ", "publ", "as", "asa", "a s", "aps", "i s",
        "k s", "ans", "hf", "ehf", "ou", "uab", "sia",
        # Central and Eastern Europe
        "sro", "spol s r o", "spol sro", "sp z oo", "sp zoo", "sp j", "sp k", "ska", "kft", "zrt", "nyrt",
        "bt", "kkt", "doo", "dd", "ad", "ood", "eood", "ead", "ooo", "oao", "zao", "pao", "ао", "ооо",
        "зао", "оао", "пао", "тов", "ltd sti", "tic ltd sti",
        # Asia-Pacific, Africa, Middle East
        "kk", "kabushiki kaisha", "gk", "godo kaisha", "yk", "yugen kaisha", "sdn bhd", "bhd", "berhad",
        "tbk", "pt tbk", "jsc", "pjsc", "ojsc", "cjsc", "fze", "fzco", "fzc", "fz llc", "wll",
        "spc", "pty limited", "npc", "soc ltd",
    }
)  # fmt: skip


def _trie_pattern(phrases: Iterable[str]) -> str:
    """One regular expression for a set of phrases, factored as a trie so that matching is one pass.

    Every phrase end requires a word end (a space or the end of the line), so "co" never matches the start of
    "corp". Longer phrases are tried first and a shorter one is taken when the longer misses the word end.
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            branches.append(r"(?=[ \n]|\Z)")
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(trie)


# On folded names, one per line: the leading "the"s, and the trailing legal forms after the first word. The
# replacements are constant, so the substitutions run in C. Forms are read possessively from the left, so
# hostile input cannot make the engine backtrack exponentially; the first space from which the rest of the
# line reads as forms wins, which keeps one word and strips as much as that greedy reading allows.
_LEADING_THE = re.compile(r"\n(?:the )++(?=\S)")
_LEGAL_TAIL = re.compile(
    r" (?<=\S )(?>" + _trie_pattern(LEGAL_FORMS) + r")(?: (?>" + _trie_pattern(LEGAL_FORMS) + r"))*+(?=\n)"
)


def _strip_once(blob: str) -> str:
    if "\nthe " in blob:
        blob = _LEADING_THE.sub("\n", blob)
    return _LEGAL_TAIL.sub("", blob)


def _strip_company_lines(folded: str) -> str:
    """Strip folded names, one per line, until nothing more comes off.

    One pass reads the forms greedily, so it can leave some behind ("0 pvt ltd sti" reads "pvt ltd" first,
    then "sti" is no form, so only "ltd sti" goes); a name is therefore stripped again until it is stable,
    which makes the result its own normal form. A second pass over the whole text almost always changes
    nothing; the few lines it changes are finished one by one.
    """
    blob = _strip_once("\n" + folded + "\n")
    again = _strip_once(blob)
    if again != blob:
        lines = again.split("\n")
        for i, (before, after) in enumerate(zip(blob.split("\n"), lines, strict=True)):
            if before == after:
                continue
            while True:
                stripped = _strip_once("\n" + after + "\n")[1:-1]
                if stripped == after:
                    break
                after = stripped
            lines[i] = after
        again = "\n".join(lines)
    return again[1:-1]


def _company_names(values: list[str]) -> list[str | None]:
    if not values:
        return []
    stripped = _strip_company_lines("\n".join(_fold_lines(values)))
    return [line or None for line in stripped.split("\n")]


@lru_cache(maxsize=1 << 16)
def _company_key(text: str) -> str | None:
    return _strip_company_lines(_fold_name(text)) or None


def normalize_company_name(value: Any) -> str | None:
    """``"The ACME, Inc."`` = ``"Acme Inc"`` = ``"acme"``; a name that is only a legal form keeps it."""
    text = _as_text(value)
    if not text:
        return None
    return _company_key(text)


# --- email -------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def normalize_email(value: Any) -> str | None:
    """Trimmed and lowercased; anything that is not ``local@domain`` is not comparable."""
    text = _as_text(value)
    if not text:
        return None
    text = text.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:].strip()
    if not _EMAIL.fullmatch(text):
        return None
    return text


# --- LinkedIn ----------------------------------------------------------------------------------------------

# LinkedIn URLs are normalized many at a time, one per line of one lowercased string, by substitutions whose
# replacements are constant (so they run in C): the part before the profile type becomes a NUL that marks
# the line as comparable, the type's slash a \x01, and everything after the slug goes. Lines without the
# NUL were not comparable and read as None.
_LINKEDIN_HEAD = re.compile(
    r"""
    \n[^\S\n]*                               # leading blanks
    (?:[a-z][a-z0-9+.-]*+:)?(?://?)?         # scheme, or a protocol-relative //, or nothing
    (?:[^/@?\#\s]*+@)?                       # user info, ignored
    (?:[a-z0-9-]+\.)*linkedin\.com\.?        # linkedin.com and any subdomain (www, es, uk, m, touch…)
    (?::\d+)?                                # port
    /(?:mwlite/|m/)?                         # mobile path prefixes
    (?=(?:in|company|school|showcase|pub)/[^/?\#\s])
    """,
    re.VERBOSE,
)
_SECTIONS = ("in", "company", "school", "showcase")
# Old public profiles keep four parts (/pub/jane-doe/1a/2b/3c); their slashes become \x03 until the end.
_LINKEDIN_PUB = re.compile(r"\x00pub/([^/?#\s]+)/([0-9a-z]{1,3})/([0-9a-z]{1,3})/([0-9a-z]{1,3})(?=[/?#\s]|\Z)")
# Everything from the first delimiter after the slug to the end of the line (the line break itself stays).
_LINKEDIN_TAIL = re.compile(r"[/?#\s](?<!\n)[^\n]*")
_SLUG_BREAKS = re.compile(r"[/?#\s]")


def _has_batch_marks(text: str) -> bool:
    return "\x00" in text or "\x01" in text or "\x02" in text or "\x03" in text


def _pub(m: re.Match[str]) -> str:
    return "\x00pub\x01" + "\x03".join(m.groups())


def _fix_slug(normal: str) -> str | None:
    """Percent-decoding and Unicode normalization of a profile's slug (the rare URLs that need it)."""
    if normal.startswith("linkedin.com/pub/"):
        return normal
    head, _, slug = normal.rpartition("/")
    for _ in range(3):  # encoded twice happens (a URL pasted through a tracker); stop when stable
        if "%" not in slug:
            break
        # Not UTF-8 once decoded: compare the text as written.
        with suppress(UnicodeDecodeError):
            decoded = unquote(slug, errors="strict")
            if decoded == slug:
                break
            slug = decoded
    slug = unicodedata.normalize("NFC", slug.lower())
    if not slug or slug in (".", "..") or _SLUG_BREAKS.search(slug):
        return None
    return head + "/" + slug


def _linkedin_blob(blob: str) -> str:
    blob = _LINKEDIN_HEAD.sub("\n\x00", "\n" + blob.lower())
    if "\x00pub/" in blob:
        blob = _LINKEDIN_PUB.sub(_pub, blob).replace("\x00pub/", "")
    for section in _SECTIONS:
        blob = blob.replace(f"\x00{section}/", f"\x00{section}\x01")
    blob = _LINKEDIN_TAIL.sub("", blob)
    if not blob.isascii():
        blob = unicodedata.normalize("NFC", blob)
    for section in (*_SECTIONS, "pub"):
        blob = blob.replace(f"\x00{section}\x01", f"\x00linkedin.com/{section}/")
    return blob.replace("\x03", "/")[1:]


def _linkedin_urls(values: list[str]) -> list[str | None]:
    if not values:
        return []
    blob = "\n".join(values)
    if blob.count("\n") != len(values) - 1 or _has_batch_marks(blob):
        return [normalize_linkedin_url(v) for v in values]
    lines = _lines_apart(values, blob, _linkedin_blob)
    out: list[str | None] = [line[1:] if line[:1] == "\x00" else None for line in lines]
    if "%" in blob or "/." in blob:
        out = [_fix_slug(v) if v is not None and ("%" in v or "/." in v) else v for v in out]
    return out


def normalize_linkedin_url(value: Any) -> str | None:
    """``https://es.linkedin.com/in/Jane-Doe/?trk=x`` -> ``linkedin.com/in/jane-doe``.

    Member profiles (``/in/``, and the old ``/pub/name/a/b/c`` form) and organization pages (``/company/``,
    ``/school/``, ``/showcase/``) are comparable. Sales Navigator, Recruiter, posts, search results, short
    links and anything else is not: ``None``.
    """
    text = _as_text(value)
    if not text:
        return None
    text = text.strip()
    if not text or "\n" in text or _has_batch_marks(text):
        return None
    return _linkedin_urls([text])[0]


# --- domains -----------------------------------------------------------------------------------------------

# Free-mail providers: the registrable domain (after Public Suffix List reduction) is never a company's.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google, Apple, Microsoft, AOL/Yahoo, Proton, Zoho Mail, Fastmail, Tuta, HEY and other global ones
        "gmail.com", "googlemail.com", "icloud.com", "me.com", "mac.com", "msn.com", "passport.com",
        "aol.com", "aim.com", "ymail.com", "rocketmail.com", "proton.me", "protonmail.com", "protonmail.ch",
        "pm.me", "zohomail.com", "zohomail.eu", "zohomail.in", "fastmail.com", "fastmail.fm", "tutanota.com",
        "tutanota.de", "tuta.io", "tutamail.com", "tuta.com", "hey.com", "hushmail.com", "mail.com",
        "email.com", "usa.com", "inbox.com", "lycos.com", "excite.com", "juno.com", "netzero.net",
        "mailbox.org", "posteo.de", "posteo.net", "runbox.com", "disroot.org", "startmail.com",
        "rediffmail.com", "gmx.com", "gmx.net",
        # United States and Canada internet providers
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "optonline.net", "frontier.com", "windstream.net", "centurylink.net",
        "roadrunner.com",
        "shaw.ca", "rogers.com", "sympatico.ca", "videotron.ca", "telus.net",
        # United Kingdom, Ireland
        "btinternet.com", "sky.com", "virginmedia.com", "ntlworld.com", "blueyonder.co.uk", "talktalk.net",
        "tiscali.co.uk", "eircom.net",
        # Germany, Austria, Switzerland
        "web.de", "t-online.de", "freenet.de", "arcor.de", "online.de", "vodafone.de", "aon.at", "chello.at",
        "a1.net", "bluewin.ch", "hispeed.ch", "sunrise.ch",
        # France, Belgium, Netherlands, Luxembourg
        "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "bbox.fr", "numericable.fr",
        "telenet.be", "skynet.be", "proximus.be", "ziggo.nl", "kpnmail.nl", "planet.nl", "home.nl",
        "hetnet.nl", "xs4all.nl", "chello.nl", "pt.lu",
        # Southern Europe
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tin.it", "tim.it", "fastwebnet.it", "email.it",
        "telefonica.net", "terra.es", "ya.com", "sapo.pt", "clix.pt", "netcabo.pt",
        # Northern and Eastern Europe
        "online.no", "telia.com", "spray.se", "bredband.net", "seznam.cz", "centrum.cz", "post.cz",
        "email.cz", "atlas.cz", "azet.sk", "centrum.sk", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "op.pl",
        "poczta.fm", "abv.bg", "mail.bg", "freemail.hu", "citromail.hu", "ukr.net", "i.ua", "meta.ua",
        "mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "rambler.ru", "ya.ru", "mail.ee",
        # Asia-Pacific, Latin America, Africa
        "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com",
        "139.com", "189.cn", "aliyun.com", "naver.com", "hanmail.net", "daum.net", "nate.com",
        "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "nifty.com", "biglobe.ne.jp", "ocn.ne.jp",
        "bigpond.com", "bigpond.net.au", "optusnet.com.au", "iinet.net.au", "xtra.co.nz", "uol.com.br",
        "bol.com.br", "terra.com.br", "ig.com.br", "globo.com", "prodigy.net.mx", "mweb.co.za",
        # Disposable addresses
        "mailinator.com", "yopmail.com", "guerrillamail.com", "10minutemail.com", "temp-mail.org",
        "trashmail.com", "sharklasers.com",
    }
)  # fmt: skip
# Providers with a registrable name under many extensions: outlook.*, hotmail.*, yahoo.co.jp, gmx.de…
FREE_MAIL_FAMILIES: frozenset[str] = frozenset(
    {"outlook", "hotmail", "live", "windowslive", "yahoo", "ymail", "gmx", "yandex", "googlemail", "gmail"}
)

_IDNA_DOTS = str.maketrans({"。": ".", "．": ".", "｡": "."})
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|[a-z0-9]")
_URL_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//(?:[^/?#@]*@)?([^/?#]*)")


@cache
def _psl() -> Any:
    # Imported lazily: reading the bundled list takes a few tens of milliseconds, and only matching needs it.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list bundled with the package: a local file, never fetched


def _extract_host(text: str) -> str | None:
    text = text.strip().lower()
    if not text:
        return None
    if text.startswith("mailto:"):
        text = text[7:]
    if "//" in text:
        m = _URL_HOST.match(text)
        if m is None:
            return None
        host = m.group(1)
    else:
        at = text.rfind("@")
        if at >= 0 and "/" not in text[:at]:
            text = text[at + 1 :]
        host = text
        for sep in "/?#":
            cut = host.find(sep)
            if cut >= 0:
                host = host[:cut]
    if host.startswith("["):  # an IPv6 literal is no company's domain
        return None
    colon = host.rfind(":")
    if colon >= 0:
        if not host[colon + 1 :].isdigit() and host[colon + 1 :] != "":
            return None
        host = host[:colon]
    return host.strip() or None


def _ascii_label(label: str) -> str | None:
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return None
        label = unicodedata.normalize("NFKC", label).lower()
    if label.isascii():
        return label if _LABEL.fullmatch(label) else None
    if any(not (c.isalnum() or c == "-") for c in label):
        return None
    try:
        encoded = "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return None
    return encoded if len(encoded) <= 63 else None


@lru_cache(maxsize=1 << 17)
def _split_host(host: str) -> tuple[str, str] | None:
    """``(registrable domain, its name without the public suffix)`` of a host, in ASCII, or None."""
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host.translate(_IDNA_DOTS)).lower()
    host = host.rstrip(".")
    if not host or len(host) > 253:
        return None
    labels = []
    for raw in host.split("."):
        label = _ascii_label(raw)
        if label is None:
            return None
        labels.append(label)
    if len(labels) < 2 or labels[-1].isdigit():  # a single label, or an IPv4 address
        return None
    psl = _psl()
    registrable = psl.privatesuffix(".".join(labels))
    if registrable is None:  # the host is itself a public suffix (co.uk, github.io)
        return None
    suffix = psl.publicsuffix(registrable)
    name = registrable[: len(registrable) - len(suffix) - 1] if suffix else registrable
    return registrable, name


def _is_free_mail(split: tuple[str, str]) -> bool:
    return split[0] in FREE_MAIL_DOMAINS or split[1] in FREE_MAIL_FAMILIES


def normalize_domain(value: Any, *, any_extension: bool = False) -> str | None:
    """The registrable domain of a bare domain, a URL or an email address, in ASCII (punycode) form.

    ``https://www.Blog.Enginy.ai:443/x`` -> ``enginy.ai``; ``jane@münchen.de`` -> ``xn--mnchen-3ya.de``. With
    ``any_extension`` the public suffix is dropped too, so ``enginy.ai`` = ``enginy.es`` = ``enginy.co.uk``
    (all ``enginy``). Free-mail providers (gmail.com, outlook.*, yahoo.*…), IP addresses and bare public
    suffixes are never a company's domain: ``None``.
    """
    text = _as_text(value)
    if not text:
        return None
    host = _extract_host(text)
    if host is None:
        return None
    split = _split_host(host)
    if split is None or _is_free_mail(split):
        return None
    return split[1] if any_extension else split[0]


def is_free_mail_domain(value: Any) -> bool:
    """Whether a domain, URL or address belongs to a free-mail provider (so it identifies no company)."""
    text = _as_text(value)
    host = _extract_host(text) if text else None
    split = _split_host(host) if host else None
    return split is not None and _is_free_mail(split)


# --- phone and plain text ----------------------------------------------------------------------------------

_NON_DIGITS = re.compile(r"\D+")


def normalize_phone(value: Any) -> str | None:
    """Digits only; an international ``00`` prefix is read as ``+``. Fewer than 6 digits is not a number."""
    text = _as_text(value)
    if not text:
        return None
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", text) if not text.isascii() else text)
    if not digits.isascii():  # digits of other scripts (Arabic-Indic, fullwidth…) as ASCII digits
        digits = "".join(str(unicodedata.digit(c, 0)) for c in digits)
    while digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= 6 else None


def _nfkc_casefold(text: str) -> str:
    """NFKC then casefold, repeated until stable (casefolding can leave text that NFKC changes again)."""
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", text).casefold()
        if folded == text:
            break
        text = folded
    return text


def normalize_text(value: Any) -> str | None:
    """NFKC, casefolded, whitespace collapsed: for custom conditions on any other field."""
    text = _as_text(value)
    if not text:
        return None
    if text.isascii():
        return " ".join(text.lower().split()) or None
    return " ".join(_nfkc_casefold(text).split()) or None


def _domain_any_extension(value: Any) -> str | None:
    return normalize_domain(value, any_extension=True)


_NORMALIZERS: dict[Kind, Normalizer] = {
    Kind.PERSON_NAME: normalize_person_name,
    Kind.COMPANY_NAME: normalize_company_name,
    Kind.EMAIL: normalize_email,
    Kind.LINKEDIN_URL: normalize_linkedin_url,
    Kind.DOMAIN: normalize_domain,
    Kind.PHONE: normalize_phone,
    Kind.TEXT: normalize_text,
}


def normalizer_for(kind: Kind | str, *, any_extension: bool = False) -> Normalizer:
    """The normalizing function of a kind; ``any_extension`` applies to domains only."""
    kind = Kind(kind)
    if kind is Kind.DOMAIN and any_extension:
        return _domain_any_extension
    return _NORMALIZERS[kind]


_BATCHES: dict[Kind, Callable[[list[str]], list[str | None]]] = {
    Kind.PERSON_NAME: _person_names,
    Kind.COMPANY_NAME: _company_names,
    Kind.LINKEDIN_URL: _linkedin_urls,
}


_NONE_AS_EMPTY = {None: ""}
_MOSTLY_DISTINCT = frozenset({Kind.LINKEDIN_URL, Kind.EMAIL, Kind.PHONE})


def normalize_column(values: Iterable[Any], kind: Kind | str, *, any_extension: bool = False) -> list[str | None]:
    """Normalize a column of values by ``kind``: the same result as the single-value function on each value,
    much faster on large columns.

    Names and LinkedIn URLs are normalized many at a time, one per line of one string, so the work runs in C
    rather than once per value in Python. A column whose values repeat (first names, company names, domains)
    is normalized once per distinct value, and equal inputs share one output string, which also keeps memory
    down on million-row columns.
    """
    kind = Kind(kind)
    single = normalizer_for(kind, any_extension=any_extension)
    values = values if isinstance(values, list) else list(values)
    batch = _BATCHES.get(kind)
    if kind in _MOSTLY_DISTINCT and batch is not None:
        # One per person: finding the repeats would cost more than it saves.
        column: list[Any] = list(map(_NONE_AS_EMPTY.get, values, values))
        if _all_text(column):
            return _sliced(batch, column)
    try:
        distinct: dict[Any, str | None] = dict.fromkeys(values)
    except TypeError:  # unhashable values: one by one
        return [single(v) for v in values]
    texts: list[str] = [v for v in distinct if type(v) is str]
    if len(texts) != len(distinct):
        others = [v for v in distinct if type(v) is not str]
        if any(type(v) is bool for v in others):  # True == 1 as a key: no sharing with numbers then
            return [single(v) for v in values]
        for value in others:
            distinct[value] = single(value)
    if batch is None:
        for value in texts:
            distinct[value] = single(value)
    else:
        distinct.update(zip(texts, _sliced(batch, texts), strict=True))
    return list(map(distinct.__getitem__, values))


_SLICE = 8192  # values per batch call


def _sliced(batch: Callable[[list[str]], list[str | None]], values: list[str]) -> list[str | None]:
    """``batch`` over ``values`` a slice at a time: each batch call is one C-level pass that holds the GIL, and on
    a 100,000-value column it would keep other threads (the window's event loop) waiting some 50 ms."""
    if len(values) <= _SLICE:
        return batch(values)
    out: list[str | None] = []
    for start in range(0, len(values), _SLICE):
        out.extend(batch(values[start:start + _SLICE]))
    return out


def _all_text(values: list[Any]) -> bool:
    return set(map(type, values)) == {str}
