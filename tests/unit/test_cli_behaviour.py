"""The command line's common manners: questions before writing (``--yes`` for scripts), global options anywhere,
a quiet end on a closed pipe, progress as whole lines in a log, the next step after ``connect``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enginy_desktop.cli import CliError, Runtime


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "goes_ahead"), [("yes\n", True), ("y\n", True), ("no\n", False), ("\n", False)])
def test_a_question_at_a_terminal(monkeypatch: pytest.MonkeyPatch, answer: str, goes_ahead: bool) -> None:
    stdin, err = _Terminal(answer), io.StringIO()
    monkeypatch.setattr(sys, "stdin", stdin)
    rt = Runtime(None, stdin, io.StringIO(), err)
    if goes_ahead:
        rt.confirm("Write 6 records to HubSpot?", False, refused="nothing was written")
    else:
        with pytest.raises(CliError, match="Cancelled: nothing was written"):
            rt.confirm("Write 6 records to HubSpot?", False, refused="nothing was written")
    assert "Write 6 records to HubSpot? Type yes to go ahead:" in err.getvalue()


def test_without_a_terminal_only_yes_goes_ahead() -> None:
    rt = Runtime(None, io.StringIO("yes\n"), io.StringIO(), io.StringIO())  # piped input is not an answer
    with pytest.raises(CliError) as refused:
        rt.confirm("Write 6 records to HubSpot?", False, refused="nothing was written")
    assert "--yes" in str(refused.value)
    assert "nothing was written" in str(refused.value)
    rt.confirm("Write 6 records to HubSpot?", True, refused="nothing was written")  # --yes


def test_data_dir_after_the_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "elsewhere"
    code, _out, err = cli("integrations", "list", "--json", "--data-dir", str(other))
    assert (code, err) == (0, "")
    assert (other / "enginy.db").is_file()


def test_connect_names_the_next_step(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("connect", "hubspot", "--set", "base_url=http://127.0.0.1:8765", "--secret-stdin", "token")
    code, out, err = cli(*args, stdin="pat-na1-x\n")
    assert (code, err) == (0, "")
    assert "Next: turn it on with `enginy-desktop integrations enable hubspot`." in out
    cli("integrations", "enable", "hubspot")
    code, out, _ = cli(*args, stdin="pat-na1-y\n")
    assert code == 0
    assert "Next:" not in out  # already on


@pytest.mark.subprocess
@pytest.mark.skipif(os.name != "posix", reason="a POSIX pipe")
def test_a_closed_pipe_ends_quietly(data_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("Email,First Name\n" + "".join(f"p{i}@acme.com,P{i}\n" for i in range(3000)), encoding="utf-8")
    exe = [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir)]
    subprocess.run([*exe, "import", "contacts", str(csv), "--list", "Leads"], check=True, capture_output=True)
    for extra in ([], ["--json"]):
        lister = subprocess.Popen([*exe, "lists", "Leads", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.Popen(["head", "-2"], stdin=lister.stdout, stdout=subprocess.PIPE)
        assert lister.stdout is not None
        assert lister.stderr is not None
        lister.stdout.close()  # only head reads it: when head exits, the lister's pipe is closed
        shown, _ = head.communicate(timeout=60)
        err = lister.stderr.read().decode()
        lister.stderr.close()
        lister.wait(timeout=60)
        assert head.stdout is not None
        head.stdout.close()
        assert err == ""
        assert lister.returncode == 0
        assert len(shown.decode().splitlines()) == 2


def test_the_runs_table_has_a_header(cli, ctx) -> None:  # type: ignore[no-untyped-def]
    ctx.runs.create("export", crm="hubspot", list_name="Leads", start=True)
    code, out, _ = cli("runs")
    assert code == 0
    assert out.splitlines()[0].split() == ["RUN", "KIND", "LIST", "INTEGRATION", "STARTED", "STATE", "COUNTS"]
    assert "Leads" in out.splitlines()[1]


def test_the_runs_table_counts_read_as_words(cli, ctx) -> None:  # type: ignore[no-untyped-def]
    run = ctx.runs.create("export", crm="pipedrive", list_name="Leads", start=True)
    ctx.runs.add_counters(run.id, {"planned_create": 92, "requests": 94, "waited_ms": 15604, "created": 92,
                                   "company_created": 12, "contact_created": 80, "associations_done": 80,
                                   "pages": 1})
    code, out, _ = cli("runs")
    assert code == 0
    row = out.splitlines()[1]
    assert row.endswith("94 requests, 15.6 s waited, 12 companies created, 80 contacts created, "
                        "80 associations, 1 page")  # each count once: not "92 created" as well
    assert "planned" not in row


def test_the_runs_table_keeps_a_total_that_has_no_per_object_counts() -> None:
    from enginy_desktop.cli.sync import runs_counts_text

    assert runs_counts_text({"created": 80, "contact_created": 80, "requests": 81}) == \
        "80 contacts created, 81 requests"
    assert runs_counts_text({"created": 5, "requests": 6}) == "5 created, 6 requests"


def test_the_runs_table_says_an_exports_unchanged_records_once_and_no_wait_under_a_tenth() -> None:
    from enginy_desktop.cli.sync import runs_counts_text

    # the plan's own count (planned_unchanged) is not an object's: not "3,000 unchanged, 3,000 contacts unchanged"
    assert runs_counts_text({"planned_unchanged": 3000, "unchanged": 3000, "contact_unchanged": 3000,
                             "waited_ms": 12}) == "3,000 contacts unchanged"


@pytest.mark.parametrize(("first", "counters", "expected"), [
    ("contact", {"total": 80, "matched": 80, "companies_total": 12, "companies_new": 12, "api_calls": 4},
     "80 contacts matched, 12 companies new, 4 API calls"),  # not "80 matched, 12 companies new"
    ("company", {"total": 30, "matched": 20, "new": 10, "api_calls": 2},
     "20 companies matched, 10 companies new, 2 API calls"),  # a company list's sync
])
def test_the_runs_table_names_what_a_sync_matched(first: str, counters: dict[str, int], expected: str) -> None:
    from enginy_desktop.cli.sync import runs_counts_text

    assert runs_counts_text(counters, first_object=first) == expected


@pytest.mark.parametrize("below", ["", "sub"])
def test_a_file_given_as_the_data_folder_is_one_clear_line(cli, tmp_path: Path, below: str) -> None:  # type: ignore[no-untyped-def]
    afile = tmp_path / "notes.txt"
    afile.write_text("mine", "utf-8")
    code, _out, err = cli("lists", "--data-dir", str(afile / below) if below else str(afile))
    assert code == 1
    assert "cannot be the data folder: a file stands where it" in err
    assert err.count("\n") == 1
    assert afile.read_text("utf-8") == "mine"


def test_the_runs_table_says_how_to_carry_on_an_interrupted_run(cli, ctx) -> None:  # type: ignore[no-untyped-def]
    export = ctx.runs.create("export", crm="hubspot", list_name="Leads", start=True)
    enrichment = ctx.runs.create("enrichment", list_name="Leads", start=True)
    for run in (export, enrichment):
        ctx.runs.set_state(run.id, "interrupted")
    code, out, _ = cli("runs")
    assert code == 0
    assert f"Carry it on with `enginy-desktop resume {export.id}`." in out
    assert f"Carry it on with `enginy-desktop enrich --resume {enrichment.id}`." in out


def test_an_integration_without_a_connector_says_so_on_the_command_line(  # type: ignore[no-untyped-def]
        not_ready_integration, cli) -> None:
    from enginy_desktop.core import catalog

    later = not_ready_integration
    ready = catalog.get("hunter")
    code, out, _ = cli("integrations", "enable", later.key)
    assert code == 0
    assert later.not_ready_text in out
    assert "enginy-desktop connect" not in out  # no nudge to connect what cannot be used yet
    code, out, _ = cli("integrations", "list")
    assert code == 0
    assert out.startswith("CRM\n")  # no blank line first; one between categories
    assert "\n\nData Enrichment\n" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert rows[later.key].endswith("(not available yet)")
    assert "not available yet" not in rows[ready.key]


@pytest.mark.parametrize("argv", [
    ("enrich", "--list", "Nope", "--find", "email", "--dry-run"),
    ("lists", "Nope"),
])
def test_a_list_that_does_not_exist_is_one_clear_line_not_an_unexpected_error(cli, argv) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli(*argv)
    assert code == 1
    assert err.startswith("enginy-desktop: There is no list named 'Nope'"), err
    assert "unexpected" not in err
    assert "Traceback" not in err


def test_a_product_name_takes_its_possessive_in_the_sync_text() -> None:
    from enginy_desktop.core import catalog
    from enginy_desktop.core.sync.plan import _Plan

    dynamics = catalog.get("dynamics").name
    text = _Plan("scan", [], 0.0, 0, why_scan="names as stored").describe(dynamics, 10)
    assert "Dynamics 365's search compares names as stored" in text
    assert "Dynamics's" not in text
    assert catalog.possessive(catalog.get("hubspot").name) == "HubSpot's"


def test_sync_progress_says_each_phases_last_count_at_once() -> None:
    from enginy_desktop.cli.sync import _StderrProgress
    from enginy_desktop.core.runs import Progress

    out = io.StringIO()
    progress = _StderrProgress(out)  # not a terminal: whole lines, at most one every two seconds in a phase
    for snap in (Progress("Storing contact links", 0, 80), Progress("Storing contact links", 40, 80),
                 Progress("Storing contact links", 80, 80), Progress("Reading HubSpot companies")):
        progress(snap)
    assert out.getvalue().splitlines() == ["Storing contact links: 0 / 80", "Storing contact links: 80 / 80",
                                           "Reading HubSpot companies"]


def test_restore_associations_of_a_run_that_is_not_an_export_says_so(cli, ctx) -> None:  # type: ignore[no-untyped-def]
    run = ctx.runs.create("sync", crm="hubspot", list_name="Leads", start=True)
    ctx.runs.finish(run.id)
    code, out, err = cli("restore-associations", str(run.id))
    assert code == 1
    assert out == ""  # not "Export run 1 removed no company association …"
    assert err.strip() == (f"enginy-desktop: Run {run.id} is a sync run, not an export: only an export with "
                           "'Associate as Primary and remove previous associations' removes company associations. "
                           "`enginy-desktop runs` lists the runs.")


@pytest.mark.parametrize(("argv", "expected"), [
    (("ai", "run", "--resume"), "is an export run, not an AI column: carry it on with `enginy-desktop resume {id}`."),
    (("enrich", "--resume"), "is an export run, not an enrichment: carry it on with `enginy-desktop resume {id}`."),
    (("import", "theirstack", "--resume"),
     "is an export run, not a TheirStack import: carry it on with `enginy-desktop resume {id}`."),
])
def test_resuming_a_run_with_another_kinds_command_names_the_right_one(cli, ctx, argv, expected) -> None:  # type: ignore[no-untyped-def]
    run = ctx.runs.create("export", crm="hubspot", list_name="Leads", start=True)
    ctx.runs.finish(run.id, state="interrupted", error="Enginy Desktop stopped while this run was in progress.")
    code, _, err = cli(*argv, str(run.id))
    assert code == 1
    assert err.strip() == f"enginy-desktop: Run {run.id} " + expected.format(id=run.id)  # not "unexpected error"


def test_enrich_checks_its_report_file_before_spending_anything(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-such-folder" / "r.json"
    code, out, err = cli("enrich", "--list", "Leads", "--find", "email", "--yes", "--report", str(missing))
    assert code == 2
    assert out == ""
    assert err.strip() == (f"enginy-desktop: --report {missing}: the folder {missing.parent} does not exist. "
                           "Nothing was done.")
