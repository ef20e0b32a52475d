"""The command line: AI columns and the TheirStack import against the emulators served on loopback."""

from __future__ import annotations

import json
import re
from typing import Any

from enginy_desktop.sandbox.ai.openai import SANDBOX_KEY as OPENAI_KEY
from enginy_desktop.sandbox.ai.openai import OpenAISandbox
from enginy_desktop.sandbox.server import serve
from enginy_desktop.sandbox.sources.theirstack import SANDBOX_KEY as TS_KEY
from enginy_desktop.sandbox.sources.theirstack import TheirStackSandbox, TheirStackSandboxConfig
from tests.support.ai_world import contacts_list


def test_ai_column_from_the_command_line(cli: Any, ctx: Any) -> None:
    _list_id, _ids = contacts_list(ctx, 12, empty_titles=[2])
    code, _out, err = cli("ai", "add", "--list", "Leads", "--name", "B2B", "--prompt", "Is {{company_nam}} B2B?",
                          "--type", "yes_no")
    assert code != 0
    assert "{{company_name}}" in err
    code, _out, err = cli("ai", "add", "--list", "Leads", "--name", "B2B", "--prompt", "Is {{nosuch}} B2B?")
    assert code != 0
    assert "{{nosuch}} is not a field of this list. The fields you can use: {{first_name}}" in err  # nothing close
    assert "{{company.FIELD}}" in err
    code, _out, err = cli("ai", "add", "--list", "Leads", "--name", "Size", "--prompt", "Size of {{company_name}}",
                          "--type", "label")
    assert code != 0
    assert "Give at least two labels with --labels" in err
    code, out, err = cli("ai", "add", "--list", "Leads", "--name", "B2B", "--type", "yes_no",
                         "--prompt", "{{first_name}} ({{job_title}}) at {{company_name}}: is it B2B?")
    assert code == 0, err
    code, out, err = cli("ai", "run", "--list", "Leads", "--column", "B2B", "--yes")
    assert code != 0
    assert "built-in" in err
    assert "`enginy-desktop connect openai --secret-stdin api_key`" in err  # how, in the command line's words
    assert err.count("\n") == 1
    sandbox = OpenAISandbox()
    with serve(sandbox.app) as url:
        code, _o, err = cli("connect", "openai", "--set", f"base_url={url}/v1", "--secret-stdin", "api_key",
                            stdin=OPENAI_KEY + "\n")
        assert code == 0, err
        assert cli("integrations", "enable", "openai")[0] == 0
        code, out, err = cli("ai", "models")
        assert code == 0, err
        assert "gpt-4o-mini" in out
        code, out, err = cli("ai", "estimate", "--list", "Leads", "--column", "B2B")
        assert code == 0, err
        assert "11 of 12 rows to ask" in out
        assert "own server" in out
        code, out, err = cli("ai", "run", "--list", "Leads", "--column", "B2B")
        assert code != 0
        assert "--yes" in err
        assert "Run the AI column “B2B”? Not confirmed, nothing was sent" in err  # the shared refusal
        code, out, err = cli("ai", "run", "--list", "Leads", "--column", "B2B", "--yes")
        assert code == 0, err
        host = url.split("://", 1)[1]
        assert f"Asking your OpenAI-compatible server at {host}" in err  # named, not its URL
        assert "Asking http" not in err
        assert "11 values written" in out
        assert "1 skipped (empty placeholders)" in out
        assert sandbox.stats.completions == 11
        code, out, err = cli("ai", "run", "--list", "Leads", "--column", "B2B", "--yes")
        assert code == 0
        assert sandbox.stats.completions == 11
    code, out, _ = cli("lists", "Leads", "--json")
    assert code == 0
    assert sum(1 for r in json.loads(out) if r["custom_fields"].get("B2B") in ("Yes", "No")) == 11


def test_theirstack_import_from_the_command_line(cli: Any) -> None:
    sandbox = TheirStackSandbox(TheirStackSandboxConfig(companies=1500))
    with serve(sandbox.app) as url:
        code, _o, err = cli("connect", "theirstack", "--set", f"base_url={url}", "--set", "plan=Paid",
                            "--secret-stdin", "api_key", stdin=TS_KEY + "\n")
        assert code == 0, err
        assert cli("integrations", "enable", "theirstack")[0] == 0
        args = ["import", "theirstack", "--list", "Targets", "--technology", "python", "--technology", "snowflake",
                "--max-companies", "120"]
        code, out, err = cli(*args, "--dry-run")
        assert code == 0, err
        assert "companies match on TheirStack (free count)." in out
        first_count = int(re.search(r"([\d,]+) companies match", out).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert "360 API credits" in out
        assert "Dry run: nothing was imported, no credit was spent" in out
        assert sandbox.used_credits == 0
        code, out, err = cli(*args)
        assert code != 0
        assert "--yes" in err
        assert "Not confirmed, no credit was spent" in err
        assert sandbox.used_credits == 0
        code, out, err = cli(*args, "--yes")
        assert code == 0, err
        assert "120 companies added" in out
        assert "360 credits spent" in out
        assert out.rstrip().splitlines()[-1].startswith("Next: connect and enable your CRM")  # what comes next
        code, out, err = cli(*args, "--dry-run")  # the free count leaves out what the list already holds
        assert code == 0, err
        assert f"{first_count - 120:,} companies match on TheirStack (free count), not counting the 120 domains " \
               "already in “Targets”" in out
        code, out, err = cli(*args, "--yes")  # the same again: the list's domains are excluded, never re-bought
        assert code == 0, err
        assert "120 companies added" in out
        assert sandbox.stats.companies_returned == 240
        assert sandbox.stats.excluded_domains_max == 120
    code, out, _ = cli("lists", "--json")
    assert code == 0
    assert {x["name"]: x["count"] for x in json.loads(out)}["Targets"] == 240
