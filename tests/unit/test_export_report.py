"""Pure pieces of the export report and preview: formula-safe CSV cells, failure causes, plural field labels,
the Slack summary message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enginy_desktop.core.export.notify import summary_message
from enginy_desktop.core.export.plan import _plural
from enginy_desktop.core.export.report import _cause, csv_safe, traffic_line
from enginy_desktop.core.runs import RunInfo


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+34 600", "'+34 600"), ("-2", "'-2"), ("@cmd", "'@cmd"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("Jane", "Jane"), ("a=b", "a=b"), (None, ""), (42, "42"), ("", "")],
)  # fmt: skip
def test_csv_cells_are_formula_safe(value: object, cell: str) -> None:
    assert csv_safe(value) == cell


def test_failure_causes_group_across_records() -> None:
    a = _cause("“Employees” is a number field; “many” is not a number.")
    b = _cause("“Employees” is a number field; “lots” is not a number.")
    assert a == b == "“Employees” is a number field; “…” is not a number."
    assert _cause("Contact already exists. Existing ID: 1234567") == "Contact already exists. Existing ID: …"
    assert _cause("Matches 2 HubSpot records (1234, 5678); choose one.") == "Matches 2 HubSpot records; choose one."


@pytest.mark.parametrize(
    ("label", "plural"),
    [("Job Title", "job titles"), ("Phone Number", "phone numbers"), ("Company", "companies"),
     ("Lead Status", "lead statuses"), ("Email", "emails"), ("Day", "days"), ("URL", "urls")],
)  # fmt: skip
def test_plural_labels(label: str, plural: str) -> None:
    assert _plural(label) == plural


def test_slack_summary_blocks() -> None:
    info = RunInfo(7, "export", "hubspot", 1, "Q1 <VIP> & co", "finished", {"crm_name": "HubSpot"},
                   {"created": 3, "updated": 1, "failed": 2, "activities_done": 4}, datetime.now(UTC), None, None,
                   None)
    message = summary_message(info, [("“Employees” is a number field; “…” is not a number.", 2)])
    assert message.text.startswith("Export of “Q1 <VIP> & co” to HubSpot finished.")
    texts = [b.get("text", {}).get("text", "") for b in message.blocks]
    assert "Q1 &lt;VIP&gt; &amp; co" in texts[0]
    assert texts[0].startswith(":white_check_mark:")
    assert "Failed: 2" in texts[1]
    assert any("2 × “Employees”" in t for t in texts)
    assert len(message.blocks) <= 50


@pytest.mark.parametrize(
    ("counters", "signal", "line"),
    [({"requests": 412}, "429", ""),
     ({"requests": 412, "waited_ms": 40}, "429", ""),
     ({"requests": 415, "throttled": 3, "retries": 3, "waited_ms": 12400}, "429",
      "HubSpot asked us to slow down 3 times (429); the export waited 12 s in all and retried 3 requests — nothing "
      "was lost."),
     ({"requests": 13, "throttled": 1, "retries": 1, "waited_ms": 2000, "failed": 2}, "403 REQUEST_LIMIT_EXCEEDED",
      "HubSpot asked us to slow down once (403 REQUEST_LIMIT_EXCEEDED); the export waited 2.0 s in all and retried "
      "1 request."),
     ({"requests": 80, "waited_ms": 4100}, "429", "The export kept to HubSpot's rate limit: it waited 4.1 s in all."),
     ({"requests": 82, "retries": 2}, "429",
      "HubSpot did not answer 2 requests the first time; the export sent them again — nothing was lost."),
     ({"requests": 81, "retries": 1, "waited_ms": 500}, "429",
      "HubSpot did not answer 1 request the first time; the export waited 0.5 s in all and sent it again — nothing "
      "was lost.")],
)  # fmt: skip
def test_the_traffic_line_speaks_only_when_the_crm_slowed_the_export(counters: dict[str, int], signal: str,
                                                                      line: str) -> None:
    assert traffic_line(counters, "HubSpot", signal) == line
