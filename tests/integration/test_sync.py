"""Sync against the HubSpot sandbox over loopback: outcomes with the presets and a custom rule, companies by
domain with and without "Include any domain extension", links with why, fewer calls the second time, cancel,
the user's choice for ambiguous records, duplicate risk, the command line, and every request against HubSpot's
published spec."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from enginy_desktop.core import sync
from enginy_desktop.core.crm_config import CompanyIdentifier, ContactIdentifier
from enginy_desktop.core.matching.normalize import Kind
from enginy_desktop.core.matching.rules import CompanyPreset, Condition, ContactPreset, Rule
from enginy_desktop.core.models import CrmLink
from enginy_desktop.core.runs import CancelToken, Progress, ProgressTracker
from enginy_desktop.core.services.crm import CrmNotConnectedError, NoActiveCrmError
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandbox, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve

Cli = Callable[..., tuple[int, str, str]]

LEADS = """First name,Last name,Email,Company,Company domain,LinkedIn URL
Jane,Doe,jane@acme.com,"ACME, Inc.",acme.com,https://es.linkedin.com/in/Jane-Doe?trk=x
José,García,,Beta SL,beta.es,
John,Smith,,Globex,globex.com,
Ana,Nueva,ana@nadie.io,Nadie,nadie.io,
Solo,,solo@gmail.com,,,
"""


def _crm_records(sb: HubSpotSandbox) -> dict[str, str]:
    ids = {
        "jane": sb.insert("contacts", {"firstname": "Jane", "lastname": "Doe", "company": "Acme Inc.",
                                       "email": "jane@acme.com",
                                       "hs_linkedin_url": "https://www.linkedin.com/in/jane-doe/"}).id,
        "jose": sb.insert("contacts", {"firstname": "Jose", "lastname": "Garcia", "company": "Beta S.L."}).id,
        "john1": sb.insert("contacts", {"firstname": "John", "lastname": "Smith", "company": "Globex",
                                        "email": "john@globex.com"}).id,
        "john2": sb.insert("contacts", {"firstname": "JOHN", "lastname": "smith", "company": "Globex Corp",
                                        "email": "jsmith@globex.com"}).id,
        "acme": sb.insert("companies", {"name": "Acme Inc", "domain": "acme.com"}).id,
        "beta": sb.insert("companies", {"name": "Beta", "domain": "www.beta.com"}).id,
    }
    return {k: str(v) for k, v in ids.items()}


@pytest.fixture
def hubspot() -> Iterator[tuple[str, HubSpotSandbox, dict[str, str]]]:
    app = create_app(HubSpotSandboxConfig(seed_contacts=1000, random_seed=3))
    sb = app.state.sandbox
    ids = _crm_records(sb)
    with serve(app) as url:
        yield url, sb, ids


def _connect(cli: Cli, url: str) -> None:
    code, _, err = cli("connect", "hubspot", "--set", f"base_url={url}", "--secret-stdin", "token",
                       stdin=DEFAULT_TOKEN + "\n")
    assert code == 0, err
    assert cli("integrations", "enable", "hubspot")[0] == 0


def _import(cli: Cli, tmp_path: Path, text: str, name: str = "Leads") -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    code, _, err = cli("import", "contacts", str(path), "--list", name)
    assert code == 0, err


@pytest.fixture
def leads(cli: Cli, tmp_path: Path, hubspot: tuple[str, HubSpotSandbox, dict[str, str]], ctx: Any) -> Any:
    _connect(cli, hubspot[0])
    _import(cli, tmp_path, LEADS)
    return ctx


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def by_name(ctx: Any, object_: str = "contact") -> dict[str, sync.LinkRow]:
    return {r.name.split(" · ")[0]: r for r in sync.link_rows(ctx, "Leads", object=object_)}


def calls_logged(sb: HubSpotSandbox, since: int) -> list[Any]:
    """Requests HubSpot answered (a 429 from a burst right after another test's sync is not work done)."""
    return [r for r in sb.requests[since:] if r.status != 429 and not r.path.startswith("/__sandbox__")]


def set_identifiers(
    ctx: Any, contact: ContactIdentifier | None = None, company: CompanyIdentifier | None = None
) -> None:
    config = ctx.crm_configs.load("hubspot")
    if contact is not None:
        config.contact_identifier = contact
    if company is not None:
        config.company_identifier = company
    ctx.crm_configs.save(config)


def test_default_identifiers_give_every_outcome_with_why(leads: Any, hubspot: Any) -> None:
    _, sb, ids = hubspot
    result = run(sync.sync_list(leads, "Leads"))
    assert not result.cancelled
    contacts = result.objects["contact"]
    assert contacts.counts["matched"] == 2
    assert contacts.counts["new"] == 1
    assert contacts.counts["ambiguous"] == 1
    assert contacts.counts["unmatchable"] == 1
    rows = by_name(leads)
    assert (rows["Jane Doe"].outcome, rows["Jane Doe"].crm_id, rows["Jane Doe"].why) == (
        "matched", ids["jane"], "LinkedIn URL")
    assert rows["José García"].outcome == "matched"
    assert rows["José García"].crm_id == ids["jose"]
    assert rows["José García"].why == "First name + Last name + Company name"
    assert rows["John Smith"].outcome == "ambiguous"
    assert set(rows["John Smith"].candidates) == {ids["john1"], ids["john2"]}
    assert rows["John Smith"].crm_id is None
    assert rows["Ana Nueva"].outcome == "new"
    assert rows["Solo"].outcome == "unmatchable"
    # Links are stored with why, and the run is in the history with its counters.
    with leads.store.session() as s:
        stored = {(link.local_id, link.outcome, link.why) for link in s.scalars(
            select(CrmLink).where(CrmLink.object == "contact"))}
    assert len(stored) == 5
    assert any(why == "LinkedIn URL" for _, _, why in stored)
    info = leads.runs.get(result.run_id)
    assert info.kind == "sync"
    assert info.state == "finished"
    assert info.list_name == "Leads"
    assert info.counters["matched"] == 2
    assert info.counters["ambiguous"] == 1
    assert info.counters["api_calls"] == result.api_calls
    assert info.counters["companies_matched"] == 1
    assert len(calls_logged(sb, 0)) <= result.api_calls


def test_first_last_company_preset_and_legal_forms(leads: Any) -> None:
    set_identifiers(leads, contact=ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY))
    run(sync.sync_list(leads, "Leads"))
    rows = by_name(leads)
    # "ACME, Inc." = "Acme Inc." once legal forms and punctuation are dropped
    assert rows["Jane Doe"].outcome == "matched"
    assert rows["Jane Doe"].why == "First name + Last name + Company name"
    assert rows["John Smith"].outcome == "ambiguous"
    assert rows["Solo"].outcome == "unmatchable"


def test_custom_rule_by_email_reads_in_batches(leads: Any, hubspot: Any) -> None:
    _, sb, ids = hubspot
    email = Rule.of(Condition("email", "email", Kind.EMAIL, "Email"))
    set_identifiers(leads, contact=ContactIdentifier(ContactPreset.CUSTOM, email))
    before = len(sb.requests)
    result = run(sync.sync_list(leads, "Leads"))
    contact_calls = [r for r in calls_logged(sb, before) if "/contacts" in r.path]
    assert [r.path for r in contact_calls] == ["/crm/objects/2026-03/contacts/batch/read"]
    rows = by_name(leads)
    assert (rows["Jane Doe"].outcome, rows["Jane Doe"].crm_id, rows["Jane Doe"].why) == ("matched", ids["jane"],
                                                                                          "Email")
    assert rows["Ana Nueva"].outcome == "new"
    assert rows["John Smith"].outcome == "unmatchable"  # no e-mail: cannot be compared
    assert result.objects["contact"].api_calls == 1


def test_companies_by_domain_with_and_without_any_extension(leads: Any, hubspot: Any) -> None:
    _, _, ids = hubspot
    run(sync.sync_list(leads, "Leads"))
    companies = by_name(leads, "company")
    assert companies["ACME, Inc."].outcome == "matched"
    assert companies["ACME, Inc."].crm_id == ids["acme"]
    assert companies["ACME, Inc."].why == "Domain"
    assert companies["Beta SL"].outcome == "new"  # beta.es is not beta.com
    set_identifiers(leads, company=CompanyIdentifier(CompanyPreset.DOMAIN, include_any_extension=True))
    result = run(sync.sync_list(leads, "Leads"))
    companies = by_name(leads, "company")
    assert companies["Beta SL"].outcome == "matched"
    assert companies["Beta SL"].crm_id == ids["beta"]
    assert "listed every HubSpot record" in result.objects["company"].strategy  # no search can find any extension
    assert sync.link_counts(leads, "Leads", object="company") == {"matched": 2, "new": 2}


def test_a_second_sync_needs_fewer_calls(cli: Cli, tmp_path: Path, hubspot: Any, ctx: Any) -> None:
    url, sb, _ = hubspot
    _connect(cli, url)
    crm = [r.props for r in list(sb.objects["contacts"].values())[:240]]
    lines = ["First name,Last name,Email,Company,LinkedIn URL"]
    for p in crm:
        lines.append(",".join(f'"{p.get(k, "")}"' for k in ("firstname", "lastname", "email", "company",
                                                            "hs_linkedin_url")))
    for i in range(60):
        lines.append(f"New,Person{i},,Nowhere {i},https://www.linkedin.com/in/new-person-{i}")
    _import(cli, tmp_path, "\n".join(lines) + "\n", name="Big")
    before = len(sb.requests)
    first = run(sync.sync_list(ctx, "Big"))
    first_calls = len(calls_logged(sb, before))
    before = len(sb.requests)
    second = run(sync.sync_list(ctx, "Big"))
    second_calls = len(calls_logged(sb, before))
    assert first.objects["contact"].counts == second.objects["contact"].counts
    assert second_calls < first_calls
    assert "re-read" in second.objects["contact"].strategy
    # A record changed in the CRM since is seen: a new duplicate makes a matched contact ambiguous.
    jane_like = crm[0]
    sb.insert("contacts", {"firstname": jane_like["firstname"], "lastname": jane_like["lastname"],
                           "company": jane_like.get("company", ""),
                           "hs_linkedin_url": jane_like.get("hs_linkedin_url", "")})
    third = run(sync.sync_list(ctx, "Big"))
    assert third.objects["contact"].counts["ambiguous"] == second.objects["contact"].counts["ambiguous"] + 1
    # And --full looks everything up again.
    fourth = run(sync.sync_list(ctx, "Big", use_cache=False))
    assert "re-read" not in fourth.objects["contact"].strategy


def test_cancel_keeps_what_was_stored(leads: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("enginy_desktop.core.sync.links.SAVE_BATCH", 2)
    every_step = functools.partial(ProgressTracker, interval=0.0)
    monkeypatch.setattr("enginy_desktop.core.sync.run.ProgressTracker", every_step)
    token = CancelToken()
    phases: list[str] = []

    def progress(p: Progress) -> None:
        phases.append(p.phase)
        if p.phase == "Storing contact links" and p.done >= 2:
            token.cancel()

    result = run(sync.sync_list(leads, "Leads", progress=progress, token=token))
    assert result.cancelled
    assert "Sync cancelled while storing the contacts' links" in result.message
    assert "2 links stored before it stopped are kept" in result.message
    assert leads.runs.get(result.run_id).state == "cancelled"
    assert sum(sync.link_counts(leads, "Leads").get(k, 0) for k in sync.OUTCOME_KEYS) == 2
    # Cancelled before anything is stored.
    token = CancelToken()
    token.cancel()
    result = run(sync.sync_list(leads, "Leads", token=token))
    assert result.cancelled
    assert "nothing had been stored yet" in result.message


def test_ambiguous_choice_and_create_new_persist(leads: Any, hubspot: Any) -> None:
    _, _, ids = hubspot
    run(sync.sync_list(leads, "Leads"))
    john = by_name(leads)["John Smith"]
    details = run(sync.candidate_details(leads, "contact", list(john.candidates)))
    assert {d.id for d in details} == {ids["john1"], ids["john2"]}
    assert {d.get("email") for d in details} == {"john@globex.com", "jsmith@globex.com"}
    with pytest.raises(sync.SyncError, match="Only one of the CRM records"):
        sync.choose(leads, "contact", john.local_id, ids["jane"])
    sync.choose(leads, "contact", john.local_id, ids["john2"])
    john = by_name(leads)["John Smith"]
    assert (john.outcome, john.crm_id) == ("chosen", ids["john2"])
    assert john.why == "Chosen by you among 2 matching records"
    result = run(sync.sync_list(leads, "Leads"))  # the decision survives a sync
    assert by_name(leads)["John Smith"].outcome == "chosen"
    assert result.objects["contact"].counts["chosen"] == 1
    assert leads.runs.get(result.run_id).counters["matched"] == 3
    sync.create_new(leads, "contact", john.local_id)
    run(sync.sync_list(leads, "Leads", use_cache=False))
    john = by_name(leads)["John Smith"]
    assert (john.outcome, john.crm_id, john.why) == ("create_new", None, sync.CREATE_NEW_WHY)
    with pytest.raises(sync.SyncError, match="Only a record that matched several"):
        sync.create_new(leads, "contact", by_name(leads)["Jane Doe"].local_id)


def test_duplicate_risk_suggests_the_tighter_identifier(leads: Any) -> None:
    report = run(sync.check_duplicate_risk(leads, "Leads", object="company"))
    assert report.risk.rescued == 1  # beta.es would be created again although beta.com is in the CRM
    assert report.suggestion == "Include any domain extension"
    assert "Consider enabling Include any domain extension" in report.message
    set_identifiers(leads, contact=ContactIdentifier(ContactPreset.FIRST_LAST_COMPANY))
    report = run(sync.check_duplicate_risk(leads, "Leads", object="contact"))
    assert report.risk.current.ambiguous == 1
    assert report.risk.current.unmatchable == 1
    assert report.suggestion.startswith("LinkedIn profile URL")
    assert report.as_json()["at_risk"] >= 2


def test_refused_without_an_enabled_or_connected_crm(cli: Cli, tmp_path: Path, ctx: Any) -> None:
    _import(cli, tmp_path, LEADS)
    with pytest.raises(NoActiveCrmError, match="No CRM is enabled"):
        run(sync.sync_list(ctx, "Leads"))
    assert cli("integrations", "enable", "hubspot")[0] == 0
    with pytest.raises(CrmNotConnectedError, match="HubSpot is not connected"):
        run(sync.sync_list(ctx, "Leads"))
    code, _, err = cli("sync", "--list", "Leads")
    assert code == 1
    assert "not connected" in err
    assert ctx.runs.history() == []  # a refusal records no run


def test_unknown_list(leads: Any) -> None:
    with pytest.raises(sync.SyncError, match=r"There is no list named “Nope”\. Lists: Leads\."):
        run(sync.sync_list(leads, "Nope"))


def test_cli_sync_json_and_runs(cli: Cli, leads: Any, hubspot: Any) -> None:
    _, _, ids = hubspot
    code, out, err = cli("sync", "--list", "Leads", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["list"] == "Leads"
    assert doc["api_calls"] > 0
    assert doc["objects"]["contact"]["counts"]["matched"] == 2
    records = {r["name"].split(" · ")[0]: r for r in doc["records"] if r["object"] == "contact"}
    assert records["Jane Doe"] == {**records["Jane Doe"], "outcome": "matched", "crm_id": ids["jane"],
                                   "why": "LinkedIn URL"}
    assert set(records["John Smith"]["candidates"]) == {ids["john1"], ids["john2"]}
    assert "Reading" in err or "Looking up" in err  # progress on stderr
    code, out, _ = cli("sync", "--list", "Leads")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Contacts (5)"))
    assert line.startswith("Contacts (5): 2 matched, 1 new to HubSpot, 1 ambiguous, 1 unmatchable — compared by ")
    assert len(line) <= 160, line  # one short line: how HubSpot was read is for --verbose and the JSON
    assert "Companies (4): 1 matched, 3 new to HubSpot — compared by Domain." in out  # no zero counts
    assert "search" not in out
    assert "listed every" not in out
    assert "API call" in out
    assert "matched several CRM records" in out
    code, out, _ = cli("runs", "--json")
    assert code == 0
    history = json.loads(out)
    assert [r["kind"] for r in history] == ["sync", "sync"]
    assert history[0]["state"] == "finished"
    code, out, _ = cli("runs")
    assert code == 0
    assert "sync" in out
    assert "Leads" in out
    code, out, _ = cli("sync", "--list", "Leads", "--verbose")
    assert code == 0
    assert "  How: 2 calls; listed every HubSpot record's identifier fields" in out, out  # the detail, on request


def test_every_sync_request_follows_the_published_spec(leads: Any, shared_dir: Path) -> None:
    import httpx

    from enginy_desktop.core.services.adapters import AdapterFactory
    from tests.support.openapi_contract import ContractRecorder

    recorder = ContractRecorder.for_shared_dir(shared_dir)
    leads.adapters = AdapterFactory(leads, transport=recorder.wrap(httpx.AsyncHTTPTransport()))
    run(sync.sync_list(leads, "Leads"))
    run(sync.sync_list(leads, "Leads"))  # cached links: reads by id, changes since
    set_identifiers(leads, contact=ContactIdentifier(ContactPreset.CUSTOM, Rule.of(
        Condition("email", "email", Kind.EMAIL))))
    run(sync.sync_list(leads, "Leads"))
    run(sync.candidate_details(leads, "contact", ["1001"]))
    recorder.assert_all_valid(requests_only=True)
    paths = {e.request.url.path for e in recorder.exchanges}
    assert "/crm/objects/2026-03/contacts/search" in paths
    assert "/crm/objects/2026-03/contacts/batch/read" in paths
