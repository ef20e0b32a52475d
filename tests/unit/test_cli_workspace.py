"""``import``, ``lists`` and ``campaigns`` on the command line: output, reports, JSON, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.unit.test_campaigns import DEFINITION, EVENTS

CONTACTS = (
    "First Name,Last Name,Email,Company,Lead Score\n"
    "Jane,Doe,jane@acme.com,Acme,9\n"
    "Bob,Roe,not-an-email,Acme,\n"
    ",,,,\n"
    ",,,,7\n"
    "Ann,Lee,ann@x.com\n"
)


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_import_contacts_prints_counts_and_the_report(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "contacts.csv", CONTACTS)
    code, out, err = cli("import", "contacts", str(path), "--list", "Leads")
    assert (code, err) == (0, "")
    assert "4 rows read into the list “Leads”: 2 imported, 2 rejected, 1 warning." in out
    assert "1 company created" in out
    reports = list((data_dir / "reports").glob("import-contacts-Leads-*.csv"))
    assert len(reports) == 1
    assert str(reports[0]) in out
    with open(reports[0], encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [(r["line"], r["status"]) for r in lines] == [("3", "warning"), ("5", "rejected"), ("6", "rejected")]

    code, out, _ = cli("import", "contacts", str(path), "--list", "Leads", "--json")
    result = json.loads(out)
    # Jane is found by her email; Bob has no valid email or LinkedIn URL to be recognised by: imported again.
    assert (result["imported"], result["updated"], result["rejected"]) == (1, 1, 2)
    assert result["format"]["delimiter"] == ","


def test_clean_import_writes_no_report(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "ok.csv", "Email\na@x.com\n")
    code, out, _ = cli("import", "contacts", str(path), "--list", "L")
    assert code == 0
    assert out.splitlines()[:2] == ["1 row read into the list “L”: 1 imported.",  # no "0 rejected (0 warnings)"
                                    "Nothing was rejected and there were no warnings."]
    assert not list((data_dir / "reports").glob("*.csv"))


def test_an_import_says_what_to_run_next(cli, ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "ok.csv", "Email\na@x.com\n")
    _, out, _ = cli("import", "contacts", str(path), "--list", "Q3 leads")
    assert "Next: connect and enable your CRM (enginy-desktop connect KEY" in out  # no CRM yet
    ctx.integrations.enable("hubspot")
    _, out, _ = cli("import", "contacts", str(path), "--list", "Q3 leads")
    assert "Next: connect HubSpot (enginy-desktop connect hubspot …)" in out
    ctx.integrations.save_connection("hubspot", {"token": "pat-na1-x"})
    _, out, _ = cli("import", "contacts", str(path), "--list", "Q3 leads")
    assert "Next: enginy-desktop crm-config init (a starting HubSpot configuration" in out
    assert "export --list 'Q3 leads'" in out  # quoted as a shell needs it


def test_import_companies_with_a_mapping_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "acc.csv", "Org;Web;Headcount;Internal\nAcme;acme.com;12;x\nGlobex;globex.io;5;y\n")
    mapping = write(tmp_path, "m.json", json.dumps({
        "format": "enginy-csv-mapping", "version": 1, "object": "companies",
        "columns": {"Org": "name", "Web": "website", "Headcount": "employee_count", "Internal": "ignore"},
    }))
    saved = tmp_path / "saved.json"
    code, out, err = cli("import", "companies", str(path), "--list", "Accounts", "--mapping", str(mapping),
                         "--save-mapping", str(saved))
    assert (code, err) == (0, "")
    assert "2 rows read into the list “Accounts”: 2 imported." in out
    assert json.loads(saved.read_text())["columns"]["Internal"] == "ignore"
    code, out, _ = cli("lists", "Accounts", "--json")
    records = json.loads(out)
    assert [(r["name"], r["domain"], r["employee_count"], r["custom_fields"]) for r in records] == [
        ("Acme", "acme.com", 12, {}), ("Globex", "globex.io", 5, {}),
    ]


def test_dry_run_shows_the_mapping(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "es.csv", "Nombre;Apellidos;Correo electrónico;Cargo\nAna;García;ana@x.es;CEO\n")
    code, out, _ = cli("import", "contacts", str(path), "--list", "L", "--dry-run")
    assert code == 0
    assert "semicolon-separated" in out
    assert "Correo electrónico" in out
    assert "-> email" in out
    code, out, _ = cli("lists")
    assert "No lists yet" in out


def test_import_errors_are_one_line(cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli("import", "contacts", str(tmp_path / "missing.csv"), "--list", "L")
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "does not exist" in err

    empty = write(tmp_path, "empty.csv", "")
    code, _, err = cli("import", "contacts", str(empty), "--list", "L")
    assert code == 1
    assert "is empty" in err

    path = write(tmp_path, "c.csv", "Mail,Email\na@x.com,a@x.com\n")
    mapping = write(tmp_path, "bad.json", json.dumps({"version": 1, "columns": {"Mail": "e-mail"}}))
    code, _, err = cli("import", "contacts", str(path), "--list", "L", "--mapping", str(mapping))
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "Unknown contact field 'e-mail' for column 'Mail'" in err

    code, _, err = cli("import", "contacts", str(path), "--list", "L", "--mapping", str(tmp_path / "none.json"))
    assert code == 1
    assert "mapping file" in err

    ignore_all = write(tmp_path, "ignore.json", json.dumps({"columns": {"Mail": "ignore", "Email": "ignore"}}))
    code, _, err = cli("import", "contacts", str(path), "--list", "L", "--mapping", str(ignore_all))
    assert code == 1
    assert "every row would be rejected" in err

    write(tmp_path, "acc.csv", "Company Name\nAcme\n")
    assert cli("import", "companies", str(tmp_path / "acc.csv"), "--list", "Accounts")[0] == 0
    code, _, err = cli("import", "contacts", str(path), "--list", "Accounts")
    assert code == 1
    assert "holds companies" in err

    with pytest.raises(SystemExit) as usage:  # argparse: usage errors exit with 2
        cli("import", "contacts", str(path))
    assert usage.value.code == 2
    assert "--list" in capsys.readouterr().err


def test_lists_and_one_list_as_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("import", "contacts", str(write(tmp_path, "c.csv", CONTACTS)), "--list", "Leads")
    code, out, _ = cli("lists")
    assert code == 0
    assert "Leads" in out
    assert "contacts" in out
    assert " 2" in out
    code, out, _ = cli("lists", "--json")
    assert [(x["name"], x["kind"], x["count"]) for x in json.loads(out)] == [("Leads", "contacts", 2)]
    code, out, _ = cli("lists", "leads")  # a table without --json, with a header row
    assert out.splitlines()[0].split() == ["ID", "NAME", "EMAIL", "COMPANY", "JOB", "TITLE"]
    assert "jane@acme.com" in out.splitlines()[1]
    code, out, _ = cli("lists", "leads", "--json")
    records = json.loads(out)
    assert records[0]["email"] == "jane@acme.com"
    assert records[0]["custom_fields"] == {"Lead Score": "9"}
    code, out, _ = cli("lists", "Leads", "--offset", "1", "--limit", "5", "--json")
    assert [r["first_name"] for r in json.loads(out)] == ["Bob"]
    code, out, _ = cli("lists", "Leads", "--limit", "0", "--json")
    assert json.loads(out) == []
    code, out, _ = cli("lists", "--data-dir", str(tmp_path / "other"), "--json")  # after the command, it wins
    assert (code, json.loads(out)) == (0, [])
    assert (tmp_path / "other" / "enginy.db").is_file()
    code, out, err = cli("lists", "Nope")
    assert code == 1
    assert "There is no list named 'Nope'. Lists: Leads." in err


def test_campaign_import_and_show(cli, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cli("import", "contacts", str(write(tmp_path, "c.csv", "Name,Email,LinkedIn\nJane Doe,jane@acme.com,\n"
                                        "Bob Roe,,https://linkedin.com/in/bob\n")), "--list", "Leads")
    definition = write(tmp_path, "campaign.csv", DEFINITION)
    events = write(tmp_path, "events.csv", EVENTS)
    code, out, err = cli("import", "campaign", str(definition), "--events", str(events))
    assert (code, err) == (0, "")
    assert "Campaigns created: Q3 Outreach, Social." in out
    assert "14 rows read: 8 events recorded, 0 already recorded, 6 rejected" in out
    assert "reports" in out

    code, out, _ = cli("import", "campaign-events", str(events), "--json")
    assert json.loads(out)["already_recorded"] == 8

    code, out, _ = cli("campaigns", "list")
    assert "Q3 Outreach: run by Ana García <ana@enginy.ai>; 2 leads" in out

    code, out, _ = cli("campaigns", "show", "Q3 Outreach")
    assert code == 0
    assert "Campaign Engagement Status: Message Replied (3/3) - LinkedIn" in out
    assert "Sequence Status: Replied" in out

    code, out, _ = cli("campaigns", "show", "Q3 Outreach", "--json")
    data = json.loads(out)
    assert data["campaign"]["sequence_details"] == "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn"
    jane = next(lead for lead in data["leads"] if lead["email"] == "jane@acme.com")
    assert jane["properties"]["Campaign Reply Analysis"] == "Yes (3rd Message)"

    code, _, err = cli("campaigns", "show", "Nope")
    assert code == 1
    assert "no campaign named 'Nope'" in err

    bad = write(tmp_path, "bad.csv", "campaign,identity,step,type\nX,a@x.com,1,fax\n")
    code, _, err = cli("import", "campaign", str(bad))
    assert code == 1
    assert "line 2: unknown step type 'fax'" in err


def test_lists_says_why_it_shows_no_record(cli, ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.services.workspace import WorkspaceService

    WorkspaceService(ctx.store).create_list("Empty one", "contact")
    assert cli("lists", "Empty one")[1].strip() == ("“Empty one” has no contacts yet. Import some: enginy-desktop "
                                                    "import contacts FILE.csv --list 'Empty one'")
    path = write(tmp_path, "ok.csv", "Email\na@x.com\nb@x.com\n")
    assert cli("import", "contacts", str(path), "--list", "L")[0] == 0
    assert cli("lists", "L", "--offset", "5")[1].strip() == "No contacts from number 6 on: “L” has 2."
    with pytest.raises(SystemExit) as usage:  # refused, instead of a header over no record
        cli("lists", "L", "--limit", "-1")
    assert usage.value.code == 2
