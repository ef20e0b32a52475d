"""Keep secrets out of logs, reports and error messages.

Every secret the app reads or stores is registered here, and :func:`redact` replaces it (and anything that looks
like a credential: bearer tokens, ``api_key=`` style parameters, Slack webhook paths) with ``[REDACTED]``.
The log handler, the excepthook and the adapters' error messages all pass through it.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[REDACTED]"
_MIN_LEN = 4

_lock = threading.Lock()
_known: set[str] = set()

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization\s*[:=]\s*[\"']?(?:bearer|basic|token|zoho-oauthtoken)?\s*)[^\s\"',;]+"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    # query strings and form bodies: ?api_key=..., &client_secret=...
    re.compile(
        r"(?i)((?:^|[?&])(?:api[_-]?key|apiid|apikey|access[_-]?token|refresh[_-]?token|client[_-]?secret|"
        r"token|password|passphrase|secret|code_verifier|code|hapikey)=)[^&\s\"']+"
    ),
    # JSON bodies: "access_token": "..."
    re.compile(
        r"(?i)(\"(?:api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret|token|password|"
        r"passphrase|secret|code_verifier|id_token)\"\s*:\s*\")[^\"]+"
    ),
    re.compile(r"(?i)((?:x-api-key|x-access-token|api_key|x-apikey)\s*:\s*)[^\s,;]+"),
    re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/_-]+"),
    re.compile(r"\b(xox[abposr]-)[A-Za-z0-9-]+"),
    re.compile(r"\b(pat-[a-z0-9]{2,4}-)[A-Za-z0-9-]+"),
    re.compile(r"\b(sk-)[A-Za-z0-9_-]{8,}"),
)


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it would appear."""
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _known.add(value)


def redact(text: object) -> str:
    s = str(text)
    if not s:
        return s
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in s:
            s = s.replace(secret, MASK)
    for pattern in _PATTERNS:
        s = pattern.sub(lambda m: m.group(1) + MASK, s)
    return s


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the log line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
