"""``import contacts|companies|campaign|campaign-events``, ``lists`` and ``campaigns``: the local workspace.

Every import prints what happened to every row (read = imported + updated + rejected) and writes the rejected
rows and warnings, with their line numbers and reasons, to a CSV report in the data folder's ``reports/``.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import EXIT_ERROR, EXIT_OK, CliError, Runtime

REPORTS_DIRNAME = "reports"
PAGE = 1000


def register(sub: Any) -> None:
    imp = sub.add_parser(
        "import",
        help="import contacts, companies or campaigns from CSV files",
        description="Import a CSV file into the local workspace. See docs/import.md and docs/campaigns.md.",
    )
    isub = imp.add_subparsers(dest="what", metavar="WHAT", required=True)
    for kind, noun in (("contacts", "contact"), ("companies", "company")):
        p = isub.add_parser(kind, help=f"import {kind} into a {kind} list (created if needed)")
        p.add_argument("file", metavar="FILE.csv")
        p.add_argument("--list", dest="list_name", required=True, metavar="NAME", help="the list to import into")
        p.add_argument("--mapping", metavar="FILE.json", help="column mapping (format: docs/import.md)")
        p.add_argument("--save-mapping", metavar="FILE.json", help="write the mapping used to this file")
        p.add_argument("--dry-run", action="store_true", help="show the detected format and mapping; import nothing")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(handler=cmd_import_records, kind=noun)
    c = isub.add_parser("campaign", help="create campaigns from a definition file (and record an events log)")
    c.add_argument("file", metavar="CAMPAIGN.csv", help="definition: campaign, identity, step, type")
    c.add_argument("--events", metavar="EVENTS.csv", help="an events log to record after the definition")
    c.add_argument("--list", dest="list_name", metavar="NAME",
                   help="create leads missing from the workspace as contacts in this list")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(handler=cmd_import_campaign)
    e = isub.add_parser("campaign-events", help="record a campaign events log")
    e.add_argument("file", metavar="EVENTS.csv", help="events: campaign, email/linkedin, step, event, timestamp")
    e.add_argument("--campaign", metavar="NAME", help="the campaign, when the file has no campaign column")
    e.add_argument("--list", dest="list_name", metavar="NAME",
                   help="create leads missing from the workspace as contacts in this list")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(handler=cmd_import_events)
    from .theirstack import register_import

    register_import(isub)

    ls = sub.add_parser(
        "lists",
        help="every list with its number of records, or one list's records",
        description="Without NAME: every list with its kind and number of records. With NAME: the list's "
        "records as a table (main fields), or with --json as a JSON array (every field, custom fields included).",
    )
    ls.add_argument("name", nargs="?", metavar="NAME")
    ls.add_argument("--json", action="store_true", help="print the lists (or the list's records) as JSON")
    ls.add_argument("--limit", type=_not_negative, metavar="N", help="at most N records")
    ls.add_argument("--offset", type=_not_negative, default=0, metavar="N", help="skip the first N records")
    ls.set_defaults(handler=cmd_lists)

    cp = sub.add_parser("campaigns", help="campaigns and their leads' campaign properties")
    csub = cp.add_subparsers(dest="action", metavar="ACTION", required=True)
    cl = csub.add_parser("list", help="every campaign with its identity, steps and number of leads")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(handler=cmd_campaigns_list)
    cs = csub.add_parser("show", help="a campaign's leads with their eight campaign properties")
    cs.add_argument("name", metavar="NAME")
    cs.add_argument("--json", action="store_true")
    cs.set_defaults(handler=cmd_campaigns_show)


def _user_errors(handler: Callable[[argparse.Namespace, Runtime], int]) -> Callable[[argparse.Namespace, Runtime], int]:
    """The workspace's own user-facing errors become one line on stderr and exit code 1."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace, rt: Runtime) -> int:
        from enginy_desktop.core.campaigns import CampaignError
        from enginy_desktop.core.importers.mapping import MappingError
        from enginy_desktop.core.importers.rows import ImportFileError
        from enginy_desktop.core.services.workspace import WorkspaceError

        try:
            return handler(args, rt)
        except (ImportFileError, MappingError, WorkspaceError, CampaignError) as exc:
            raise CliError(str(exc), EXIT_ERROR) from None

    return wrapper


def _report_path(rt: Runtime, what: str, name: str) -> Path:
    from enginy_desktop.core.importers.report import new_report_path

    return new_report_path(rt.data_dir / REPORTS_DIRNAME, what, name)


def _finish_report(path: Path | None, problems: int) -> str:
    """The sentence about the report; an empty report is removed."""
    if path is None:
        return ""
    if problems == 0:
        path.unlink(missing_ok=True)
        return "Nothing was rejected and there were no warnings."
    return f"Rejected rows and warnings, with line numbers and reasons: {path}"


def _file(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise CliError(f"The file {path} does not exist." if not path.exists() else f"{path} is not a file.")
    return path


@_user_errors
def cmd_import_records(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.importers.csv_import import preview
    from enginy_desktop.core.importers.mapping import load_mapping_specs
    from enginy_desktop.core.services.workspace import WorkspaceService

    path = _file(args.file)
    specs = load_mapping_specs(Path(args.mapping), args.kind) if args.mapping else None
    pv = preview(path, args.kind, mapping=specs, max_rows=3)
    for problem in pv.mapping.problems():
        raise CliError(f"{problem} Map the columns with --mapping FILE.json (see docs/import.md).")
    if args.save_mapping:
        pv.mapping.save(Path(args.save_mapping))
    if args.dry_run:
        mapping = [
            {"column": r.header, "maps_to": r.spec, "examples": pv.column_samples(i)}
            for i, r in enumerate(pv.mapping.rules)
        ]
        if args.json:
            rt.print_json({"format": pv.format.as_json(), "mapping": mapping})
        else:
            rt.print(f"{path.name}: {pv.format.encoding_label}, {pv.format.delimiter_label}-separated.")
            for m in mapping:
                examples = ", ".join(m["examples"])
                rt.print(f"  {m['column']:<30} -> {m['maps_to']:<28} {examples}")
        return EXIT_OK
    ctx = rt.context()
    service = WorkspaceService(ctx.store)
    report = _report_path(rt, f"import-{args.kind}s", args.list_name)
    show_progress = rt.progress_is_live
    last_line = [time.monotonic()]  # the first line after two seconds: a quick import prints none

    def progress(p: Any) -> None:
        if show_progress:  # a terminal: one line redrawn in place
            rt.stderr.write(f"\r{p.rows_done:,} rows ({p.fraction:.0%})")
            rt.stderr.flush()
        elif time.monotonic() - last_line[0] >= 2.0:  # a log or a pipe: whole lines, every two seconds
            last_line[0] = time.monotonic()
            rt.stderr.write(f"Importing: {p.rows_done:,} rows ({p.fraction:.0%})\n")
            rt.stderr.flush()

    try:
        result = service.import_csv(
            path, args.kind, args.list_name, mapping=pv.mapping, fmt=pv.format, report_path=report,
            progress=progress,
        )
    except KeyboardInterrupt:
        report.unlink(missing_ok=True)
        raise CliError("Import interrupted: nothing was imported (the list is unchanged).", 130) from None
    if show_progress:
        rt.stderr.write("\n")
    note = _finish_report(report, result.rejected + result.warnings)
    if args.json:
        rt.print_json({**result.as_json(), "report": str(report) if report.exists() else None})
        return EXIT_OK
    done = [f"{result.imported:,} imported"] + [text for n, text in (
        (result.updated, f"{result.updated:,} updated"), (result.rejected, f"{result.rejected:,} rejected"),
        (result.warnings, _count(result.warnings, "warning"))) if n]  # zeros are said by the line that follows
    rt.print(f"{_count(result.rows_read, 'row')} read into the list “{result.list_name}”: {', '.join(done)}.")
    if result.companies_created:
        rt.print(f"{_count(result.companies_created, 'company', 'companies')} created for the contacts' employers.")
    rt.print(note)
    if result.imported or result.updated:
        from .next_step import print_next_step

        print_next_step(rt, ctx, result.list_name)
    return EXIT_OK


@_user_errors
def cmd_import_campaign(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.importers.campaign_import import import_definition

    path = _file(args.file)
    events = _file(args.events) if args.events else None
    ctx = rt.context()
    result = import_definition(ctx.store, path)
    out: dict[str, Any] = {"created": result.created, "unchanged": result.unchanged, "updated": result.replaced}
    if not args.json:
        rt.print(result.summary())
    if events is not None:
        code = _events(rt, events, None, args.list_name, args.json, out)
        if code != EXIT_OK:
            return code
    if args.json:
        rt.print_json(out)
    return EXIT_OK


@_user_errors
def cmd_import_events(args: argparse.Namespace, rt: Runtime) -> int:
    path = _file(args.file)
    out: dict[str, Any] = {}
    code = _events(rt, path, args.campaign, args.list_name, args.json, out)
    if args.json:
        rt.print_json(out["events"])
    return code


def _events(rt: Runtime, path: Path, campaign: str | None, list_name: str | None, as_json: bool,
            out: dict[str, Any]) -> int:
    from enginy_desktop.core.importers.campaign_import import import_events

    ctx = rt.context()
    report = _report_path(rt, "campaign-events", campaign or path.stem)
    result = import_events(ctx.store, path, campaign=campaign, list_name=list_name, report_path=report)
    note = _finish_report(report, result.rejected)
    out["events"] = {**result.as_json(), "report": str(report) if report.exists() else None}
    if not as_json:
        rt.print(result.summary())
        rt.print(note.replace("Nothing was rejected and there were no warnings.", "Nothing was rejected."))
    return EXIT_OK


@_user_errors
def cmd_lists(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.enrich.report import provenance
    from enginy_desktop.core.services.workspace import WorkspaceService

    service = WorkspaceService(rt.context().store)
    if args.name is None:
        lists = service.lists()
        if args.json:
            rt.print_json([info.as_json() for info in lists])
            return EXIT_OK
        if not lists:
            rt.print("No lists yet. Import a CSV file: enginy-desktop import contacts FILE.csv --list NAME")
            return EXIT_OK
        width = max(4, *(len(info.name) for info in lists))
        rt.print(f"{'LIST':<{width}}  {'KIND':<9}  RECORDS")
        for info in lists:
            rt.print(f"{info.name:<{width}}  {info.kind.list_kind:<9}  {info.count}")
        return EXIT_OK
    info = service.get_list(args.name)
    total = info.count if args.limit is None else min(info.count, max(args.offset, 0) + max(args.limit, 0))
    if not args.json:
        return _print_records_table(rt, service, info, max(args.offset, 0), total)
    # Streamed page by page: a list of a million records is never held in memory.
    rt.stdout.write("[")
    first = True
    offset = max(args.offset, 0)
    while offset < total:
        records = service.records(info.id, offset, min(PAGE, total - offset))
        if not records:
            break
        found = provenance(rt.context(), info.kind.value, [r["id"] for r in records])  # enriched values' sources
        for record in records:
            if record["id"] in found:
                record["enrichment"] = found[record["id"]]
            rt.stdout.write(("\n  " if first else ",\n  ") + json.dumps(record, ensure_ascii=False, default=str))
            first = False
        offset += len(records)
    rt.stdout.write("]\n" if first else "\n]\n")
    return EXIT_OK


def _count(n: int, one: str, many: str | None = None) -> str:
    """``_count(1, "warning")`` -> "1 warning"; ``_count(1240, "row")`` -> "1,240 rows"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# The columns `lists NAME` shows as a table (every field is in --json).
TABLE_COLUMNS = {
    "contact": (("id", "ID", 7), ("full_name", "NAME", 24), ("email", "EMAIL", 32), ("company_name", "COMPANY", 22),
                ("job_title", "JOB TITLE", 0)),
    "company": (("id", "ID", 7), ("name", "NAME", 28), ("domain", "DOMAIN", 26), ("industry", "INDUSTRY", 0)),
}


def _cell(value: Any, width: int) -> str:
    text = "" if value is None else " ".join(str(value).split())
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return f"{text:<{width}}" if width else text


def _not_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got '{text}'")
    return value


def _print_records_table(rt: Runtime, service: Any, info: Any, offset: int, total: int) -> int:
    first = service.records(info.id, offset, min(PAGE, max(total - offset, 0))) if offset < total else []
    kind = "company" if info.kind.value == "company" else "contact"
    if not first:  # a header over nothing says nothing: say why
        many = "companies" if kind == "company" else "contacts"
        if not info.count:
            rt.print(f"“{info.name}” has no {many} yet. Import some: enginy-desktop import {many} FILE.csv --list "
                     f"{shlex.quote(info.name)}")
        elif offset >= info.count:
            rt.print(f"No {many} from number {offset + 1:,} on: “{info.name}” has {info.count:,}.")
        return EXIT_OK
    columns = [c for c in TABLE_COLUMNS[kind] if not first or c[0] in first[0]]
    rt.print("  ".join(_cell(title, width) for _key, title, width in columns).rstrip())
    records = first
    while records:
        for record in records:
            if kind == "contact" and not record.get("full_name"):
                record["full_name"] = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
            rt.print("  ".join(_cell(record.get(key), width) for key, _t, width in columns).rstrip())
        offset += len(records)
        records = service.records(info.id, offset, min(PAGE, total - offset)) if offset < total else []
    return EXIT_OK


@_user_errors
def cmd_campaigns_list(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.campaigns import CampaignService

    campaigns = CampaignService(rt.context().store).list_campaigns()
    if args.json:
        rt.print_json([c.as_json() for c in campaigns])
        return EXIT_OK
    if not campaigns:
        rt.print("No campaigns yet. Import one: enginy-desktop import campaign CAMPAIGN.csv --events EVENTS.csv")
        return EXIT_OK
    for c in campaigns:
        rt.print(f"{c.name}: run by {c.identity.display}; {c.lead_count} leads; steps: {c.sequence_details}")
    return EXIT_OK


@_user_errors
def cmd_campaigns_show(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.campaigns import CampaignService

    service = CampaignService(rt.context().store)
    campaign = service.get(args.name)
    leads = service.leads(campaign.id)
    if args.json:
        rt.print_json({"campaign": campaign.as_json(), "leads": [lead.as_json() for lead in leads]})
        return EXIT_OK
    rt.print(f"{campaign.name} — run by {campaign.identity.display}")
    rt.print(f"Steps: {campaign.sequence_details}")
    rt.print(f"{len(leads)} leads")
    for lead in leads:
        who = lead.name + (f" <{lead.email}>" if lead.email and lead.email != lead.name else "")
        rt.print(f"\n{who}")
        for key, value in lead.properties.as_dict().items():
            if key != "Campaign Sequence Details":
                rt.print(f"  {key}: {value}")
    return EXIT_OK
