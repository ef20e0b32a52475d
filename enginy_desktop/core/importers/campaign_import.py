"""Import campaigns from CSV: a definition file (steps and identity) and an events log (who got what, when).

The formats are documented for users in ``docs/campaigns.md``. In short:

Definition (``campaign.csv``), one row per step; several campaigns may share a file::

    campaign,identity,identity_name,step,type
    Q3 Outreach,ana@enginy.ai,Ana García,1,email
    Q3 Outreach,ana@enginy.ai,Ana García,2,linkedin_connection_request

Events (``events.csv``), one row per event::

    campaign,email,linkedin,step,event,timestamp
    Q3 Outreach,jane@acme.com,,1,sent,2026-03-02 09:15

A definition is all or nothing (a campaign with a missing step makes no sense): any problem refuses the file
with the line that causes it. An events log is row by row, like a contacts import: every row is recorded,
already recorded (importing the same log twice changes nothing), or rejected with its line and reason.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enginy_desktop.core.campaigns import Event, EventType, Step, StepKind, event_problem
from enginy_desktop.core.fields import FieldValueError, clean_email, clean_linkedin_url
from enginy_desktop.core.store import Store

from .headers import header_key
from .report import ReportWriter, RowIssue
from .rows import ImportFileError
from .sniff import open_text, sniff_file

STEP_TYPES: dict[str, StepKind] = {
    header_key(k): v
    for k, v in {
        "email": StepKind.EMAIL, "e-mail": StepKind.EMAIL, "correo": StepKind.EMAIL,
        "linkedin_message": StepKind.LINKEDIN_MESSAGE, "linkedin message": StepKind.LINKEDIN_MESSAGE,
        "linkedin": StepKind.LINKEDIN_MESSAGE, "mensaje de linkedin": StepKind.LINKEDIN_MESSAGE,
        "linkedin_connection_request": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "linkedin connection request": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "connection request": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "linkedin invitation": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "invitation": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "solicitud de conexion": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "invitacion": StepKind.LINKEDIN_CONNECTION_REQUEST,
        "call": StepKind.CALL, "phone call": StepKind.CALL, "llamada": StepKind.CALL,
    }.items()
}
EVENT_TYPES: dict[str, EventType] = {
    header_key(k): v
    for k, v in {
        "added": EventType.ADDED, "add": EventType.ADDED, "anadido": EventType.ADDED,
        "sent": EventType.SENT, "send": EventType.SENT, "delivered": EventType.SENT, "enviado": EventType.SENT,
        "opened": EventType.OPENED, "open": EventType.OPENED, "abierto": EventType.OPENED,
        "clicked": EventType.CLICKED, "click": EventType.CLICKED, "clic": EventType.CLICKED,
        "replied": EventType.REPLIED, "reply": EventType.REPLIED, "respondido": EventType.REPLIED,
        "respuesta": EventType.REPLIED,
    }.items()
}

# Column name -> accepted headers (compared by header_key).
DEFINITION_COLUMNS = {
    "campaign": ("campaign", "campaign name", "campana", "nombre de la campana"),
    "identity": ("identity", "identity address", "sender", "identidad", "remitente"),
    "identity_name": ("identity name", "sender name", "nombre de la identidad"),
    "step": ("step", "step number", "paso", "numero de paso"),
    "type": ("type", "step type", "channel", "tipo", "canal"),
}
EVENT_COLUMNS = {
    "campaign": DEFINITION_COLUMNS["campaign"],
    "email": ("email", "lead email", "contact email", "correo", "correo electronico"),
    "linkedin": ("linkedin", "lead linkedin", "linkedin url", "lead linkedin url", "url de linkedin"),
    "step": DEFINITION_COLUMNS["step"],
    "event": ("event", "event type", "activity", "evento", "actividad"),
    "timestamp": ("timestamp", "date", "time", "datetime", "occurred at", "fecha", "fecha y hora"),
}

TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
)


def _db_time(at: datetime) -> str:
    """UTC, in the text form SQLAlchemy's SQLite DateTime reads back."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 (``2026-03-02T09:15:00Z``, ``2026-03-02 09:15``), or day-first ``02/03/2026 09:15``; UTC."""
    v = value.strip()
    try:
        at = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        for fmt in TIMESTAMP_FORMATS:
            try:
                at = datetime.strptime(v, fmt)  # noqa: DTZ007 - naive means UTC, made aware below
                break
            except ValueError:
                continue
        else:
            raise ValueError(
                f"'{v}' is not a date and time (use 2026-03-02 09:15, or 2026-03-02T09:15:00Z)."
            ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not Path(path).is_file():
        raise ImportFileError(f"The file {path} does not exist.")
    fmt = sniff_file(path)
    raw, text = open_text(path, fmt.encoding)
    try:
        reader = csv.reader(text, delimiter=fmt.delimiter)
        rows: list[tuple[int, list[str]]] = []
        header: list[str] | None = None
        last = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ImportFileError(f"{Path(path).name}, line {last + 1}: {exc}.") from None
            start, last = last + 1, reader.line_num
            if not any(v.strip() for v in record):
                continue
            if header is None:
                header = record
            else:
                rows.append((start, record))
    finally:
        text.close()
        raw.close()
    if header is None:
        raise ImportFileError(f"The file {path} is empty.")
    return header, rows


def _columns(header: list[str], spec: dict[str, tuple[str, ...]], path: Path, required: tuple[str, ...]) -> dict[
    str, int
]:
    keys = [header_key(h) for h in header]
    out: dict[str, int] = {}
    for name, aliases in spec.items():
        for alias in (name, *aliases):
            k = header_key(alias)
            if k in keys:
                out[name] = keys.index(k)
                break
    missing = [c for c in required if c not in out]
    if missing:
        raise ImportFileError(
            f"{Path(path).name} has no column {', '.join(repr(m) for m in missing)}. Its columns must be: "
            f"{', '.join(spec)} (see docs/campaigns.md)."
        )
    return out


@dataclass(frozen=True, slots=True)
class CampaignDefinition:
    name: str
    identity_kind: str
    identity_address: str
    identity_name: str
    steps: tuple[Step, ...]


def read_definition(path: Path) -> list[CampaignDefinition]:
    """The campaigns a definition file describes; :class:`ImportFileError` naming the line of any problem."""
    header, rows = _read_csv(path)
    cols = _columns(header, DEFINITION_COLUMNS, path, ("campaign", "identity", "step", "type"))
    name = Path(path).name
    found: dict[str, dict[str, Any]] = {}
    for line, record in rows:
        def get(column: str, record: list[str] = record) -> str:
            i = cols.get(column)
            return record[i].strip() if i is not None and i < len(record) else ""

        campaign = get("campaign")
        if not campaign:
            raise ImportFileError(f"{name}, line {line}: the campaign name is empty.")
        entry = found.setdefault(campaign.casefold(), {"name": campaign, "identity": "", "identity_name": "",
                                                       "steps": {}, "line": line})
        identity = get("identity")
        if identity:
            if entry["identity"] and entry["identity"] != identity:
                raise ImportFileError(
                    f"{name}, line {line}: campaign '{campaign}' already has the identity {entry['identity']}; "
                    "a campaign is run by one identity."
                )
            entry["identity"] = identity
        entry["identity_name"] = entry["identity_name"] or get("identity_name")
        try:
            number = int(get("step"))
            if number < 1:
                raise ValueError
        except ValueError:
            raise ImportFileError(
                f"{name}, line {line}: the step must be a number from 1 (got '{get('step')}')."
            ) from None
        kind = STEP_TYPES.get(header_key(get("type")))
        if kind is None:
            raise ImportFileError(
                f"{name}, line {line}: unknown step type '{get('type')}'. Use email, linkedin_message, "
                "linkedin_connection_request or call."
            )
        if number in entry["steps"]:
            raise ImportFileError(f"{name}, line {line}: campaign '{campaign}' has step {number} twice.")
        entry["steps"][number] = kind
    if not found:
        raise ImportFileError(f"{name} defines no campaign (it has a header but no steps).")
    out = []
    for entry in found.values():
        numbers = sorted(entry["steps"])
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            raise ImportFileError(
                f"{name}: campaign '{entry['name']}' has no step {', '.join(map(str, missing))} "
                "(steps are numbered 1, 2, 3… without gaps)."
            )
        address = entry["identity"]
        if not address:
            raise ImportFileError(f"{name}: campaign '{entry['name']}' has no identity (its sender's email or "
                                  "LinkedIn profile URL).")
        try:
            if "linkedin.com" in address.lower():
                kind_, address = "linkedin", clean_linkedin_url(address)
            else:
                kind_, address = "email", clean_email(address)
        except FieldValueError as exc:
            raise ImportFileError(f"{name}: campaign '{entry['name']}': the identity {exc}") from None
        out.append(CampaignDefinition(
            entry["name"], kind_, address, entry["identity_name"] or address,
            tuple(Step(n, entry["steps"][n]) for n in numbers),
        ))
    return out


@dataclass
class DefinitionResult:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        for label, names in (("created", self.created), ("unchanged", self.unchanged), ("updated", self.replaced)):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        return "Campaigns " + "; ".join(parts) + "."


def import_definition(store: Store, path: Path) -> DefinitionResult:
    """Create (or update) the campaigns of a definition file, with their identities.

    An existing campaign of the same name keeps its steps when they are the same; it takes the new steps when
    it has no leads yet; otherwise the file is refused (its events would no longer match its steps).
    """
    definitions = read_definition(path)
    result = DefinitionResult()
    now = _db_time(datetime.now(UTC))
    with store.write() as session:
        cur = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        for d in definitions:
            row = cur.execute(
                "SELECT id FROM identities WHERE kind = ? AND address = ?", (d.identity_kind, d.identity_address)
            ).fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO identities (kind, name, address, created_at) VALUES (?, ?, ?, ?)",
                    (d.identity_kind, d.identity_name, d.identity_address, now),
                )
                identity_id = cur.lastrowid
            else:
                identity_id = row[0]
            existing = cur.execute("SELECT id, identity_id FROM campaigns WHERE name = ?", (d.name,)).fetchone()
            steps = [(s.position, s.kind.value) for s in d.steps]
            if existing is None:
                cur.execute(
                    "INSERT INTO campaigns (name, identity_id, created_at) VALUES (?, ?, ?)",
                    (d.name, identity_id, now),
                )
                campaign_id = cur.lastrowid
                result.created.append(d.name)
            else:
                campaign_id = existing[0]
                current = cur.execute(
                    "SELECT position, kind FROM campaign_steps WHERE campaign_id = ? ORDER BY position",
                    (campaign_id,),
                ).fetchall()
                if [tuple(r) for r in current] == steps and existing[1] == identity_id:
                    result.unchanged.append(d.name)
                    continue
                leads = cur.execute(
                    "SELECT count(*) FROM campaign_leads WHERE campaign_id = ?", (campaign_id,)
                ).fetchone()[0]
                if leads and [tuple(r) for r in current] != steps:
                    raise ImportFileError(
                        f"The campaign '{d.name}' already exists with other steps and has {leads} leads; its "
                        "steps cannot change. Import this definition under another campaign name."
                    )
                cur.execute("UPDATE campaigns SET identity_id = ? WHERE id = ?", (identity_id, campaign_id))
                cur.execute("DELETE FROM campaign_steps WHERE campaign_id = ?", (campaign_id,))
                result.replaced.append(d.name)
            cur.executemany(
                "INSERT INTO campaign_steps (campaign_id, position, kind) VALUES (?, ?, ?)",
                [(campaign_id, pos, kind) for pos, kind in steps],
            )
    return result


@dataclass
class EventsResult:
    rows_read: int = 0
    recorded: int = 0
    already_recorded: int = 0
    rejected: int = 0
    leads_added: int = 0
    contacts_created: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    report_path: Path | None = None

    def summary(self) -> str:
        return (
            f"{self.rows_read} rows read: {self.recorded} events recorded, {self.already_recorded} already "
            f"recorded, {self.rejected} rejected; {self.leads_added} leads added to campaigns"
            + (f", {self.contacts_created} contacts created" if self.contacts_created else "")
            + "."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read, "recorded": self.recorded, "already_recorded": self.already_recorded,
            "rejected": self.rejected, "leads_added": self.leads_added, "contacts_created": self.contacts_created,
            "report": str(self.report_path) if self.report_path else None,
        }


def import_events(
    store: Store,
    path: Path,
    *,
    campaign: str | None = None,
    list_name: str | None = None,
    report_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> EventsResult:
    """Record the events of an events log.

    ``campaign`` names the campaign when the file has no campaign column. A lead is the contact with the row's
    email (else its LinkedIn URL); when no contact has it, the row is rejected — unless ``list_name`` is given,
    in which case the contact is created in that contacts list (created if needed).
    """
    header, rows = _read_csv(path)
    cols = _columns(header, EVENT_COLUMNS, path, ("event", "timestamp"))
    if "email" not in cols and "linkedin" not in cols:
        raise ImportFileError(f"{Path(path).name} needs an 'email' or a 'linkedin' column to identify each lead.")
    if "campaign" not in cols and not campaign:
        raise ImportFileError(
            f"{Path(path).name} has no 'campaign' column: name the campaign its events belong to."
        )
    result = EventsResult(report_path=report_path)
    report = ReportWriter(report_path) if report_path else None
    now = _db_time(datetime.now(UTC))
    try:
        with store.write() as session:
            cur = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            campaigns: dict[str, tuple[int, dict[int, tuple[int, Step]]] | None] = {}
            contacts: dict[tuple[str, str], int | None] = {}
            leads: dict[tuple[int, int], tuple[int, str]] = {}
            list_id: int | None = None

            def campaign_of(name: str) -> tuple[int, dict[int, tuple[int, Step]]] | None:
                key = name.casefold()
                if key not in campaigns:
                    row = cur.execute("SELECT id FROM campaigns WHERE name = ?", (name,)).fetchone()
                    if row is None:
                        campaigns[key] = None
                    else:
                        steps = {
                            pos: (sid, Step(pos, StepKind(kind)))
                            for sid, pos, kind in cur.execute(
                                "SELECT id, position, kind FROM campaign_steps WHERE campaign_id = ?", (row[0],)
                            )
                        }
                        campaigns[key] = (row[0], steps)
                return campaigns[key]

            def contact_of(email: str | None, linkedin: str | None) -> int | None:
                nonlocal list_id
                for column, value in (("email", email), ("linkedin_url", linkedin)):
                    if not value:
                        continue
                    key = (column, value)
                    if key not in contacts:
                        row = cur.execute(
                            f"SELECT min(id) FROM contacts WHERE {column} = ?", (value,)  # noqa: S608
                        ).fetchone()
                        contacts[key] = row[0] if row else None
                    if contacts[key] is not None:
                        return contacts[key]
                if list_name is None:
                    return None
                if list_id is None:
                    row = cur.execute("SELECT id, kind FROM lists WHERE name = ?", (list_name,)).fetchone()
                    if row is not None and row[1] != "contacts":
                        raise ImportFileError(f"The list '{list_name}' holds companies, not contacts.")
                    if row is None:
                        cur.execute(
                            "INSERT INTO lists (name, kind, created_at, updated_at) VALUES (?, 'contacts', ?, ?)",
                            (list_name, now, now),
                        )
                        list_id = cur.lastrowid
                    else:
                        list_id = row[0]
                cur.execute(
                    "INSERT INTO contacts (email, linkedin_url, full_name, source, custom_fields, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?)",
                    (email, linkedin, email or linkedin, "Campaign events import", now, now),
                )
                contact_id = int(cur.lastrowid or 0)
                position = cur.execute(
                    "SELECT COALESCE(MAX(position), -1) + 1 FROM list_memberships WHERE list_id = ?", (list_id,)
                ).fetchone()[0]
                cur.execute(
                    "INSERT INTO list_memberships (list_id, record_id, position) VALUES (?, ?, ?)",
                    (list_id, contact_id, position),
                )
                result.contacts_created += 1
                for column, value in (("email", email), ("linkedin_url", linkedin)):
                    if value:
                        contacts[(column, value)] = contact_id
                return contact_id

            def lead_of(campaign_id: int, contact_id: int, at: str) -> int:
                key = (campaign_id, contact_id)
                if key not in leads:
                    row = cur.execute(
                        "SELECT id, added_at FROM campaign_leads WHERE campaign_id = ? AND contact_id = ?", key
                    ).fetchone()
                    if row is None:
                        cur.execute(
                            "INSERT INTO campaign_leads (campaign_id, contact_id, added_at) VALUES (?, ?, ?)",
                            (campaign_id, contact_id, at),
                        )
                        row = (cur.lastrowid, at)
                        result.leads_added += 1
                    leads[key] = (int(row[0]), str(row[1]))
                lead_id, added = leads[key]
                if at < added:  # an event earlier than the lead's "added": the lead was added then at the latest
                    cur.execute("UPDATE campaign_leads SET added_at = ? WHERE id = ?", (at, lead_id))
                    leads[key] = (lead_id, at)
                return lead_id

            def get(record: list[str], column: str) -> str:
                i = cols.get(column)
                return record[i].strip() if i is not None and i < len(record) else ""

            for line, record in rows:
                result.rows_read += 1
                problem = None
                try:
                    name = get(record, "campaign") or (campaign or "")
                    found = campaign_of(name) if name else None
                    if found is None:
                        raise ValueError(f"There is no campaign named '{name}'; import its definition first."
                                         if name else "The campaign is empty.")
                    campaign_id, steps = found
                    etype = EVENT_TYPES.get(header_key(get(record, "event")))
                    if etype is None:
                        raise ValueError(
                            f"Unknown event '{get(record, 'event')}'. Use added, sent, opened, clicked or replied."
                        )
                    at = parse_timestamp(get(record, "timestamp"))
                    step_text = get(record, "step")
                    step_id, step = None, None
                    if step_text:
                        try:
                            number = int(step_text)
                        except ValueError:
                            raise ValueError(f"The step must be a number (got '{step_text}').") from None
                        if number not in steps:
                            raise ValueError(f"The campaign '{name}' has no step {number} (it has {len(steps)}).")
                        step_id, step = steps[number]
                    issue = event_problem(step, etype)
                    if issue:
                        raise ValueError(issue)
                    email = linkedin = None
                    try:
                        if get(record, "email"):
                            email = clean_email(get(record, "email"))
                        if get(record, "linkedin"):
                            linkedin = clean_linkedin_url(get(record, "linkedin"))
                    except FieldValueError as exc:
                        raise ValueError(str(exc)) from None
                    if not email and not linkedin:
                        raise ValueError("The row has no lead email and no lead LinkedIn URL.")
                    contact_id = contact_of(email, linkedin)
                    if contact_id is None:
                        raise ValueError(
                            f"No contact has the email or LinkedIn URL {email or linkedin}. Import the contacts "
                            "first, or name a list to create them in."
                        )
                    stamp = _db_time(at)
                    lead_id = lead_of(campaign_id, contact_id, stamp)
                    if etype is EventType.ADDED:
                        exists = cur.execute(
                            "SELECT 1 FROM campaign_events WHERE lead_id = ? AND type = 'added' "
                            "AND occurred_at = ?", (lead_id, stamp),
                        ).fetchone()
                        inserted = 0 if exists else cur.execute(
                            "INSERT INTO campaign_events (lead_id, step_id, type, occurred_at, channel) "
                            "VALUES (?, NULL, 'added', ?, NULL)", (lead_id, stamp),
                        ).rowcount
                    else:
                        inserted = cur.execute(
                            "INSERT OR IGNORE INTO campaign_events (lead_id, step_id, type, occurred_at, channel) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (lead_id, step_id, etype.value, stamp, step.kind.channel if step else None),
                        ).rowcount
                    if inserted:
                        result.recorded += 1
                    else:
                        result.already_recorded += 1
                except ValueError as exc:
                    problem = str(exc)
                if problem:
                    result.rejected += 1
                    issue_row = RowIssue(line, "rejected", problem)
                    if len(result.issues) < 10_000:
                        result.issues.append(issue_row)
                    if report is not None:
                        report.write([issue_row])
                if progress is not None and result.rows_read % 1000 == 0:
                    progress(result.rows_read)
    finally:
        if report is not None:
            report.close()
    return result


__all__ = [
    "CampaignDefinition",
    "DefinitionResult",
    "Event",
    "EventsResult",
    "import_definition",
    "import_events",
    "parse_timestamp",
    "read_definition",
]
