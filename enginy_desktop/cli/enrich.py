"""``enrich``: find missing e-mails, phones, titles… for a list with the enabled enrichment providers (DESIGN §13).

    enginy-desktop enrich --list NAME --find email,phone,job_title [--providers apollo,hunter]
                          [--max-credits N | --no-cap] [--replace] [--dry-run] [--yes] [--report FILE.json] [--json]
    enginy-desktop enrich --resume RUN_ID [--max-credits N] [--yes]
    enginy-desktop enrich --providers-list

The cap is 100 credits unless ``--max-credits N`` or ``--no-cap`` (the window's default too). The estimate (per
provider: records asked at most, credits at most, against the cap) comes first; then a
confirmation on the terminal unless ``--yes``; without a terminal the command refuses to spend without ``--yes``.
Exit codes: 0 finished, 1 refused or failed, 3 stopped part-way (cancelled, paused at the cap, a provider's failure —
resume it with ``--resume``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Runtime

EXIT_PARTIAL = 3
DEFAULT_CAP = 100.0  # enginy_desktop.core.enrich.DEFAULT_MAX_CREDITS (not imported here: `--help` stays fast)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "enrich",
        help="find missing e-mails, phones, job titles… with the enabled enrichment providers",
        description="Enrich a list with the switched-on, connected Data Enrichment providers, asked in a waterfall: "
        "the next provider is asked only for what is still missing. Shows the estimate (records and credits at "
        "most, per provider) first and asks for confirmation. Values you entered are never replaced unless "
        "--replace; answers are cached per provider, so the same lookup is never paid twice. See "
        "docs/enrichment.md.",
    )
    p.add_argument("--list", metavar="NAME", help="the list to enrich")
    p.add_argument("--find", metavar="POINTS", default="",
                   help="what to find, comma-separated: email, email_status, phone, job_title, linkedin_url, "
                        "company_domain, industry, size, revenue, location")
    p.add_argument("--providers", metavar="KEYS", default="",
                   help="the providers to ask, in this order, for every data point, in this run only (default: each "
                        "data point's order saved on the Enrichment settings page, without the providers unticked "
                        "there for it; --providers overrides both, an excluded provider listed here is asked)")
    p.add_argument("--max-credits", type=float, metavar="N",
                   help="never spend more than N credits in this run, all providers together (default: "
                        f"{DEFAULT_CAP:g}, as in the window; a run that reaches the cap is paused there, resume it "
                        "with a higher one); with --resume: the run's new cap")
    p.add_argument("--no-cap", action="store_true", help="no credit cap: spend up to the estimate's total")
    p.add_argument("--replace", action="store_true", help="also replace values that are already there")
    p.add_argument("--dry-run", action="store_true", help="print the estimate and spend nothing")
    p.add_argument("--yes", action="store_true", help="start without asking (needed without a terminal)")
    p.add_argument("--report", metavar="FILE.json", help="write the run's report to this JSON file")
    p.add_argument("--json", action="store_true", help="print the estimate and the report as JSON")
    p.add_argument("--resume", type=int, metavar="RUN_ID", help="carry on an interrupted, cancelled or failed "
                   "enrichment run (nothing is paid twice)")
    p.add_argument("--providers-list", action="store_true",
                   help="list the enrichment providers, what they find and whether they are ready")
    p.set_defaults(handler=cmd_enrich)


def _providers(rt: Runtime, ctx: Any, as_json: bool) -> int:
    from enginy_desktop.core.enrich import default_order, excluded_providers, providers

    choices = providers(ctx)
    order = default_order(ctx)
    excluded = excluded_providers(ctx)
    if as_json:
        rt.print_json({"providers": [{"key": c.key, "name": c.name, "enabled": c.enabled, "connected": c.connected,
                                      "finds": [p.value for p in c.finds], "pricing": c.pricing, "unit": c.unit,
                                      "batch_size": c.batch_size, "flow": c.flow} for c in choices],
                       "order": {p.value: keys for p, keys in order.items()},
                       "excluded": {p.value: keys for p, keys in excluded.items()}})
        return EXIT_OK
    for c in choices:
        state = "ready" if c.ready else ("switched off" if not c.enabled else "not connected")
        rt.print(f"{c.key:<12} {c.name:<12} {state:<14} finds {', '.join(p.value for p in c.finds)}")
        rt.print(f"{'':<12} {c.pricing}")
    rt.print("Waterfall order (ready providers): " + "; ".join(
        f"{p.value}: {' > '.join(keys)}{_never(excluded.get(p))}" for p, keys in order.items() if keys)
        if any(order.values()) else
        "No provider is ready: switch one on (enginy-desktop integrations enable KEY) and connect it.")
    if excluded:
        rt.print("Never asked (unticked on the Enrichment settings page): " + "; ".join(
            f"{p.value}: {', '.join(keys)}" for p, keys in excluded.items())
            + ". --providers overrides this for a run.")
    return EXIT_OK


def _never(keys: list[str] | None) -> str:
    return f" (never {', '.join(keys)})" if keys else ""


def _options(ctx: Any, args: argparse.Namespace) -> Any:
    from enginy_desktop.core.enrich import EnrichOptions, default_order
    from enginy_desktop.core.enrich.plan import providers as all_providers
    from enginy_desktop.core.enrich.points import parse_points
    from enginy_desktop.core.services.workspace import WorkspaceService

    if not args.list:
        raise CliError("Say which list to enrich: --list NAME.", EXIT_USAGE)
    try:
        points = parse_points(args.find)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    info = WorkspaceService(ctx.store).get_list(args.list)
    order = default_order(ctx)
    if args.providers:
        keys = [k.strip().lower() for k in args.providers.split(",") if k.strip()]
        known = {c.key: c for c in all_providers(ctx)}
        for k in keys:
            if k not in known:
                raise CliError(f"'{k}' is not an enrichment provider. Known: {', '.join(known)}.", EXIT_USAGE)
            if not known[k].ready:
                raise CliError(known[k].why_not("cli"))
        order = {p: [k for k in keys if p in known[k].finds] for p in points}
    else:
        from enginy_desktop.core.enrich import excluded_providers

        excluded = excluded_providers(ctx)
        if not any(order.get(p) for p in points) and any(excluded.get(p) for p in points):
            never = "; ".join(f"{p.value}: {', '.join(excluded[p])}" for p in points if excluded.get(p))
            raise CliError(f"Every ready provider that finds what you chose is unticked for it on the Enrichment "
                           f"settings page ({never}). Name the providers to ask in this run with --providers KEYS, "
                           "or tick them again there.")
    order = {p: order.get(p, []) for p in points}
    return EnrichOptions(info.id, points, order, max_credits=_cap(args), replace=args.replace)


def _cap(args: argparse.Namespace) -> float | None:
    """The run's cap: --max-credits N, none with --no-cap, else the default (the window's too)."""
    if args.no_cap and args.max_credits is not None:
        raise CliError("Choose either --max-credits N or --no-cap, not both.", EXIT_USAGE)
    if args.no_cap:
        return None
    return DEFAULT_CAP if args.max_credits is None else float(args.max_credits)


def _print_estimate(rt: Runtime, est: Any, options: Any, excluded: dict[Any, list[str]]) -> None:
    """``excluded``: the providers the saved waterfall never asks per data point (none with --providers)."""
    from enginy_desktop.core.enrich.points import label

    rt.print(f"Enrich “{est.list_name}” ({est.records:,} records): " + ", ".join(
        f"{label(p)} missing in {est.missing.get(p.value, 0):,}" for p in options.points))
    for p in options.points:
        keys = options.order.get(p, [])
        never = (f" (not asked: {', '.join(excluded[p])}, unticked on the Enrichment settings page; --providers "
                 "overrides)") if excluded.get(p) else ""
        none = "no provider asked" if never else "no ready provider finds it"
        rt.print(f"  {label(p)}: {' > '.join(keys) if keys else none}{never}")
    rt.print("Estimate (at most, if every provider before it in the waterfall found nothing):")
    for pe in est.providers:
        cached = f"; {pe.cached:,} answered free from the cache" if pe.cached else ""
        rt.print(f"  {pe.name:<12} asked about at most {pe.records:,} records, at most {_num(pe.credits)} "
                 f"{pe.unit}{cached}")
    if est.cap is None:
        cap = " (no cap: --no-cap)"
    elif est.cap == DEFAULT_CAP:
        cap = f" (cap {_num(est.cap)}, the default: --max-credits N sets another, --no-cap none)"
    else:
        cap = f" (cap {_num(est.cap)})"
    rt.print(f"  Total: at most {_num(est.credits_at_most)} credits{cap}.")
    for point, n in est.unreachable.items():
        rt.print(f"  {n:,} records cannot be looked up for {point} (they lack a name and company, a LinkedIn URL or "
                 "an e-mail).")
    if est.over_cap:
        rt.print("  The estimate is over the cap: the run asks only what the cap pays for at most (the last request "
                 "is split to fit), then stops; resume it with a higher cap.")


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.1f}".rstrip("0").rstrip(".")


def _confirm(rt: Runtime, yes: bool, what: str) -> None:
    rt.confirm(what, yes, refused="nothing was asked, no credit was spent")


class _Progress:
    def __init__(self, rt: Runtime) -> None:
        from .progress import ProgressLines

        self.lines = ProgressLines(rt.stderr)

    def __call__(self, p: Any) -> None:
        parts = [p.phase, f"{p.done:,}/{p.total:,}" if p.total else ""]
        if p.message:
            parts.append(p.message)
        self.lines(p.phase, " · ".join(x for x in parts if x), last=p.done == p.total)


def _run(coro_factory: Any) -> Any:
    from enginy_desktop.core.runs import CancelToken

    token = CancelToken()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, token.cancel)
        try:
            return await coro_factory(token)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())


def _finish(rt: Runtime, ctx: Any, run_id: int, args: argparse.Namespace) -> int:
    from enginy_desktop.core.enrich import report
    from enginy_desktop.core.enrich.report import point_label

    rep = report(ctx, run_id)
    if args.report:
        Path(args.report).write_text(json.dumps(rep.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    if args.json:
        rt.print_json(rep.as_json())
    else:
        rt.print(f"Run {rep.run_id} {rep.state_label.lower()}: {rep.found:,} values found ({rep.cached:,} from the "
                 f"cache), {_num(rep.credits)} credits spent.")
        for pr in rep.providers:
            if not pr.requests:
                continue
            requests = f"{pr.requests:,} request{'' if pr.requests == 1 else 's'}"
            rt.print(f"  {pr.name}: {requests}, {_num(pr.credits)} credits")
            for point, o in pr.points.items():
                failed = f", failed {o.failed:,}" if o.failed else ""
                rt.print(f"    {point_label(point)}: asked {o.asked:,}, found {o.found:,}, not found "
                         f"{o.not_found:,}{failed}")
        missing = ", ".join(f"{point_label(k)} {v:,}" for k, v in rep.still_missing.items() if v)
        if missing:
            rt.print(f"  Still missing: {missing}.")
        if rep.reasked:
            rt.print(f"  {rep.reasked:,} records were asked again: their request was cut off by the interruption "
                     "before its answer was recorded (their provider does not charge a repeated lookup).")
        if rep.not_reasked:
            rt.print(f"  {rep.not_reasked:,} records were not asked again: their request was cut off by the "
                     "interruption and their provider charges a repeated lookup (nothing was paid twice). Enrich "
                     "the list again to ask them.")
        if rep.left_by_cap and not rep.error:  # a stop at the cap says it in its error, once
            rt.print(f"  {rep.left_by_cap:,} records still had a provider to ask, left for lack of credit under the "
                     "cap.")
        if rep.error:
            rt.print(f"  {rep.error}")
        if rep.resumable and rep.left_by_cap:  # the same cap would stop it again at once: raise it
            rt.print(f"  Resume it with a higher cap: enginy-desktop enrich --resume {rep.run_id} --max-credits N "
                     f"(N above this run's cap of {_cap_text(ctx, rep.run_id)}).")
        elif rep.resumable:
            rt.print(f"  Resume it with: enginy-desktop enrich --resume {rep.run_id}")
        if args.report:
            rt.print(f"  Report written to {args.report}")
        if rep.state == "finished" and rep.found:
            from .next_step import print_next_step

            print_next_step(rt, ctx, ctx.runs.get(run_id).list_name)
    if rep.state == "finished":
        return EXIT_OK
    return EXIT_PARTIAL if rep.state in ("cancelled", "failed", "interrupted") else EXIT_ERROR


def _cap_text(ctx: Any, run_id: int) -> str:
    cap = ctx.runs.get(run_id).options.get("enrich", {}).get("max_credits")
    return f"{float(cap):,.2f}".rstrip("0").rstrip(".") if isinstance(cap, int | float) else "capped"


def cmd_enrich(args: argparse.Namespace, rt: Runtime) -> int:
    from enginy_desktop.core.enrich import EnrichError, estimate, resume_enrichment, run_enrichment, start_enrichment
    from enginy_desktop.core.runs import RunError

    ctx = rt.context()
    if args.providers_list:
        return _providers(rt, ctx, args.json)
    from .outputs import check_output_files

    check_output_files(args)  # before any credit is spent
    progress = _Progress(rt)
    if args.resume is not None:
        from .resume import require_kind

        try:
            info = require_kind(ctx, args.resume, "enrichment")
        except RunError as exc:
            raise CliError(str(exc)) from None
        if info.active:
            raise CliError(f"Run {args.resume} is still {info.state_label.lower()} in another process "
                           f"(pid {info.owner_pid}).")
        _confirm(rt, args.yes, f"Resume enrichment run {args.resume} (already-answered lookups are not paid again)?")
        try:
            _run(lambda token: resume_enrichment(ctx, args.resume, max_credits=args.max_credits, progress=progress,
                                                 token=token))
        except RunError as exc:
            raise CliError(str(exc)) from None
        except EnrichError as exc:
            raise CliError(exc.for_surface("cli")) from None
        return _finish(rt, ctx, args.resume, args)
    try:
        options = _options(ctx, args)
        est = estimate(ctx, options)
    except EnrichError as exc:
        raise CliError(exc.for_surface("cli")) from None
    if args.json and args.dry_run:
        rt.print_json(est.as_json())
        return EXIT_OK
    if not args.json:
        from enginy_desktop.core.enrich import excluded_providers

        _print_estimate(rt, est, options, {} if args.providers else excluded_providers(ctx))
    if args.dry_run:
        rt.print("Dry run: nothing was asked, nothing was spent.")
        return EXIT_OK
    if est.nothing_to_do and not args.json:
        rt.print("Nothing to ask: every record already has these values, or the cache answers them.")
    if not est.nothing_to_do:  # nothing to ask costs nothing: no question (the cache's answers are still applied)
        _confirm(rt, args.yes, f"Spend at most {_num(est.credits_at_most)} credits"
                 + (f" (cap {_num(est.cap)})" if est.cap is not None else "") + "?")
    try:
        info = start_enrichment(ctx, options)
    except RunError as exc:  # another enrichment of this list is running
        raise CliError(str(exc)) from None
    except EnrichError as exc:
        raise CliError(exc.for_surface("cli")) from None
    print(f"Run {info.id} started.", file=rt.stderr, flush=True)
    _run(lambda token: run_enrichment(ctx, info.id, progress=progress, token=token))
    return _finish(rt, ctx, info.id, args)
