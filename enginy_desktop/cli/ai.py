"""``ai``: AI columns of a list from the command line (docs/ai-columns.md).

    enginy-desktop ai add --list NAME --name COLUMN --prompt TEXT [--type yes_no|text|label|number|json] …
    enginy-desktop ai columns --list NAME
    enginy-desktop ai models
    enginy-desktop ai estimate --list NAME --column COLUMN
    enginy-desktop ai preview --list NAME --column COLUMN [--rows 5]
    enginy-desktop ai run --list NAME --column COLUMN [--yes]      |   ai run --resume RUN_ID
    enginy-desktop ai delete --list NAME --column COLUMN
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from . import EXIT_ERROR, EXIT_OK, CliError, Runtime
from .progress import ProgressLines


def register(sub: Any) -> None:
    ai = sub.add_parser("ai", help="AI columns on lists (OpenAI or an OpenAI-compatible server)",
                        description="Define, preview, estimate and run AI columns. See docs/ai-columns.md.")
    asub = ai.add_subparsers(dest="action", metavar="ACTION", required=True)

    def list_arg(p: Any, column: bool = True) -> None:
        p.add_argument("--list", dest="list_name", required=True, metavar="NAME", help="the list")
        if column:
            p.add_argument("--column", required=True, metavar="COLUMN", help="the AI column's name")

    add = asub.add_parser("add", help="add an AI column to a list")
    list_arg(add, column=False)
    add.add_argument("--name", required=True, metavar="COLUMN", help="the new column's name")
    add.add_argument("--prompt", required=True, help="the prompt, with {{field}} placeholders")
    add.add_argument("--type", default="text", choices=["text", "label", "number", "yes_no", "json"],
                     help="what the answer is: free text (default), one of --labels, a number, yes or no, or JSON "
                          "following --schema")
    add.add_argument("--max-length", type=int, metavar="N", help="text: at most N characters (default 200)")
    add.add_argument("--labels", metavar="A,B,C", help="label: the allowed labels, comma-separated")
    add.add_argument("--schema", metavar="FILE.json", help="json: the JSON schema of the answer")
    add.add_argument("--model", default="gpt-4o-mini",
                     help="the model to ask (default gpt-4o-mini; `enginy-desktop ai models` lists them)")
    add.add_argument("--temperature", type=float, default=0.0,
                     help="0 (default) for the same answer to the same row; higher for more varied answers")
    add.set_defaults(handler=cmd_add)

    cols = asub.add_parser("columns", help="the AI columns of a list")
    list_arg(cols, column=False)
    cols.add_argument("--json", action="store_true")
    cols.set_defaults(handler=cmd_columns)

    models = asub.add_parser("models", help="the models the connection offers (GET /v1/models)")
    models.set_defaults(handler=cmd_models)

    est = asub.add_parser("estimate", help="tokens and cost for the whole list, counted offline")
    list_arg(est)
    est.add_argument("--json", action="store_true")
    est.set_defaults(handler=cmd_estimate)

    pre = asub.add_parser("preview", help="ask for a few rows and show the answers (nothing is written)")
    list_arg(pre)
    pre.add_argument("--rows", type=int, default=5, metavar="N", help="how many rows (at most 5)")
    pre.set_defaults(handler=cmd_preview)

    run = asub.add_parser("run", help="run an AI column over its list (or resume a run)")
    run.add_argument("--list", dest="list_name", metavar="NAME", help="the list")
    run.add_argument("--column", metavar="COLUMN", help="the AI column's name")
    run.add_argument("--resume", type=int, metavar="RUN_ID", help="carry on an interrupted, cancelled or failed run")
    run.add_argument("--yes", action="store_true", help="run without asking for confirmation")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_run)

    rm = asub.add_parser("delete", help="delete an AI column and its values")
    list_arg(rm)
    rm.add_argument("--keep-values", action="store_true", help="keep the values on the records")
    rm.set_defaults(handler=cmd_delete)


def _column(rt: Runtime, list_name: str, column: str) -> Any:
    from enginy_desktop.core.ai.columns import AiColumnError, AiColumnService
    from enginy_desktop.core.services.workspace import WorkspaceError, WorkspaceService

    ctx = rt.context()
    try:
        info = WorkspaceService(ctx.store).get_list(list_name)
        return AiColumnService(ctx.store).find(info.id, column)
    except (WorkspaceError, AiColumnError) as exc:
        raise CliError(str(exc)) from None


def cmd_add(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.ai.columns import AiColumnError, AiColumnService
    from enginy_desktop.core.services.workspace import WorkspaceError, WorkspaceService

    ctx = rt.context()
    options: dict[str, Any] = {}
    if args.max_length is not None:
        options["max_length"] = args.max_length
    if args.labels:
        options["labels"] = args.labels
    if args.schema:
        try:
            options["schema"] = Path(args.schema).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"Cannot read {args.schema}: {exc.strerror}.") from None
    try:
        info = WorkspaceService(ctx.store).get_list(args.list_name)
        column = AiColumnService(ctx.store).create(info.id, args.name, args.prompt, args.type, options, args.model,
                                                   args.temperature)
    except (WorkspaceError, AiColumnError) as exc:
        message = str(exc)
        if args.type == "label" and "labels" in message:  # the flag that gives them, on the command line
            message = message.replace("Give at least two labels, separated by commas",
                                      "Give at least two labels with --labels, separated by commas")
        raise CliError(message) from None
    rt.print(f"AI column “{column.name}” added to “{info.name}” ({column.output.summary}, {column.model}). "
             f"Step 2 of the CRM wizard can map it as “{column.name} (AI)”.")
    return EXIT_OK


def cmd_columns(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.ai.columns import AiColumnService
    from enginy_desktop.core.services.workspace import WorkspaceError, WorkspaceService

    ctx = rt.context()
    try:
        info = WorkspaceService(ctx.store).get_list(args.list_name)
    except WorkspaceError as exc:
        raise CliError(str(exc)) from None
    columns = AiColumnService(ctx.store).columns(info.id)
    if args.json:
        rt.print_json([c.as_json() for c in columns])
        return EXIT_OK
    for c in columns:
        rt.print(f"{c.name}  ({c.output.summary}; {c.model}; prompt version {c.version})\n    {c.prompt}")
    rt.print(f"{len(columns)} AI column{'s' if len(columns) != 1 else ''}")
    return EXIT_OK


def _cli_text(exc: Exception) -> str:
    """The error's text; when no AI is connected, also how to connect one from the command line."""
    from enginy_desktop.core.ai.connection import AiNotConnectedError

    if isinstance(exc, AiNotConnectedError):
        return (f"{exc} From the command line: `enginy-desktop connect openai --secret-stdin api_key` (the key on "
                "standard input; add --set base_url=URL for a compatible server), then "
                "`enginy-desktop integrations enable openai`.")
    return str(exc)


def cmd_models(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.ai.connection import AiNotConnectedError, open_ai_adapter

    ctx = rt.context()

    async def go() -> list[str]:
        async with open_ai_adapter(ctx) as ai:
            return await ai.models()

    try:
        for m in asyncio.run(go()):
            rt.print(m)
    except (AiNotConnectedError, AdapterError) as exc:
        raise CliError(_cli_text(exc)) from None
    return EXIT_OK


def cmd_estimate(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.ai.run import estimate

    column = _column(rt, args.list_name, args.column)
    guess = estimate(rt.context(), column.id)
    if args.json:
        rt.print_json(guess.as_json())
    else:
        rt.print(guess.text)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.ai.connection import AiNotConnectedError
    from enginy_desktop.core.ai.run import _list_ids, preview

    ctx = rt.context()
    column = _column(rt, args.list_name, args.column)
    ids = _list_ids(ctx, column.list_id)[: max(1, min(5, args.rows))]
    try:
        rows = asyncio.run(preview(ctx, column.id, ids))
    except (AiNotConnectedError, AdapterError) as exc:
        raise CliError(_cli_text(exc)) from None
    for r in rows:
        rt.print(f"{r.label}: {r.value if not r.error else r.error}")
        rt.print(f"    prompt: {r.prompt}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.adapters.base import AdapterError
    from enginy_desktop.core.ai.connection import AiNotConnectedError
    from enginy_desktop.core.ai.run import estimate, run_column
    from enginy_desktop.core.runs import RunError

    ctx = rt.context()

    lines = ProgressLines(rt.stderr)

    def progress(p: Any) -> None:
        if p.total:
            lines(p.phase, f"  {p.phase}: {p.done:,} / {p.total:,}", last=p.done == p.total)

    try:
        if args.resume is not None:
            from .resume import require_kind

            require_kind(ctx, args.resume, "ai")
            result = asyncio.run(run_column(ctx, run_id=args.resume, progress=progress))
        else:
            if not (args.list_name and args.column):
                raise CliError("Say which column to run: --list NAME --column COLUMN (or --resume RUN_ID).", 2)
            column = _column(rt, args.list_name, args.column)
            guess = estimate(ctx, column.id)
            if not args.json:
                rt.print(guess.text)
            if guess.to_ask:
                rt.confirm(f"Run the AI column “{column.name}”?", args.yes, refused="nothing was sent")
            result = asyncio.run(run_column(ctx, column.id, progress=progress,
                                            on_start=lambda rid: print(f"Run {rid} started.", file=rt.stderr,
                                                                       flush=True)))
    except (AiNotConnectedError, AdapterError, RunError) as exc:
        raise CliError(_cli_text(exc)) from None
    if args.json:
        rt.print_json({**result.run.as_json(), "summary": result.message})
    else:
        rt.print(f"Run {result.run_id} {result.run.state_label.lower()}: {result.message}")
        failed = ctx.runs.items(result.run_id, state="failed", limit=10)
        for item in failed:
            rt.print(f"  record {item.local_id}: {item.error}")
    if result.run.state == "finished":
        return EXIT_OK
    if result.run.resumable:
        print(f"Resume with: enginy-desktop ai run --resume {result.run_id}", file=rt.stderr)
    return EXIT_ERROR


def resume_other(rt: Runtime, kind: str, run_id: int) -> int:
    """``resume RUN_ID`` for an AI-column run or a TheirStack import."""
    if kind == "ai":
        return cmd_run(argparse.Namespace(resume=run_id, json=False, yes=True, list_name=None, column=None), rt)
    from .theirstack import cmd_import_theirstack

    return cmd_import_theirstack(argparse.Namespace(resume=run_id, json=False), rt)


def cmd_delete(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.ai.columns import AiColumnService

    column = _column(rt, args.list_name, args.column)
    AiColumnService(rt.context().store).delete(column.id, keep_values=args.keep_values)
    rt.print(f"AI column “{column.name}” deleted" + (" (its values were kept)." if args.keep_values else "."))
    return EXIT_OK


def dumps(value: Any) -> str:
    return json.dumps(value)
