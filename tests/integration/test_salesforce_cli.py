"""Salesforce on the command line: an expired or revoked sign-in says the command that fixes it (not only the
window), and reports and the runs table name Salesforce's own throttling signal (``403 REQUEST_LIMIT_EXCEEDED``),
not the 429 other CRMs send."""

from __future__ import annotations

from typing import Any

import pytest

from enginy_desktop.core.export.report import load_report, throttle_signal, traffic_line
from enginy_desktop.sandbox.kit.server import serve
from tests.support.crm_world import emulator

EXPIRED = "00Dexpired0000000001.AQexpired.session"  # a session the org no longer knows
FIX = "enginy-desktop connect salesforce --secret-stdin access_token"


@pytest.mark.parametrize("command", [("check", "salesforce"), ("crm-fields", "--object", "contacts")])
def test_an_expired_session_names_the_command_to_run(ctx: Any, cli: Any, command: tuple[str, ...]) -> None:
    app = emulator("salesforce")
    with serve(app) as url:
        ctx.integrations.save_connection("salesforce", {"base_url": url, "access_token": EXPIRED})
        ctx.integrations.enable("salesforce")
        code, out, err = cli(*command)
    assert code != 0, out
    assert "INVALID_SESSION_ID" in err
    assert FIX in err
    assert "sf org display" in err
    assert EXPIRED not in err + out


def test_not_connected_says_the_command_too(ctx: Any, cli: Any) -> None:
    ctx.integrations.save_connection("salesforce", {"base_url": "http://127.0.0.1:9", "client_id": "key"})
    ctx.integrations.enable("salesforce")
    code, _out, err = cli("crm-fields", "--object", "contacts")
    assert code != 0
    assert "Salesforce is not connected" in err
    assert FIX in err


def test_reports_and_runs_name_salesforces_throttling_signal(ctx: Any, cli: Any) -> None:
    assert throttle_signal("salesforce") == "403 REQUEST_LIMIT_EXCEEDED"
    assert throttle_signal("hubspot") == "429"
    run = ctx.runs.create("export", crm="salesforce", list_name="Leads", options={"crm_name": "Salesforce"})
    ctx.runs.add_counters(run.id, {"requests": 12, "retries": 2, "throttled": 2, "waited_ms": 1500})
    traffic = load_report(ctx, run.id).traffic
    assert traffic["throttled"] == 2
    assert traffic["throttle_signal"] == "403 REQUEST_LIMIT_EXCEEDED"
    line = traffic_line(load_report(ctx, run.id).run.counters, "Salesforce", traffic["throttle_signal"])
    assert line == ("Salesforce asked us to slow down 2 times (403 REQUEST_LIMIT_EXCEEDED); the export waited 1.5 s in "
                    "all and retried 2 requests — nothing was lost.")
    assert "429" not in line
    code, out, err = cli("runs")
    assert code == 0, err
    assert "2 × 403 REQUEST_LIMIT_EXCEEDED" in out
    assert "429" not in out
