"""AI columns: definitions, placeholders, outputs, estimate, preview, and runs against the OpenAI emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from enginy_desktop.adapters.ai.openai import RateBudget, parse_duration
from enginy_desktop.core.ai.columns import AiColumnError, AiColumnService, ai_fields
from enginy_desktop.core.ai.connection import AiNotConnectedError, ai_status
from enginy_desktop.core.ai.outputs import OutputError, OutputSpec, parse_answer, strict_schema
from enginy_desktop.core.ai.run import estimate, preview, run_column
from enginy_desktop.core.models import AiResult, Contact
from enginy_desktop.core.runs import CancelToken
from enginy_desktop.sandbox.ai.openai import OpenAISandboxConfig
from tests.support.ai_world import contacts_list, custom_values, openai_sandbox

B2B = ("{{first_name}}: is {{company_name}} ({{company.industry}}, {{company.employee_count}} employees) B2B? "
       "Contact: {{job_title}}.")
OPENER = "Write a one-line opener for {{first_name}}, {{job_title}} at {{company_name}} ({{company.industry}})."


def test_unknown_placeholders_are_refused_with_a_suggestion(ctx: Any) -> None:
    list_id, _ = contacts_list(ctx, 3)
    service = AiColumnService(ctx.store)
    check = service.check_prompt(list_id, "Hi {{jobtitle}} at {{company.industy}} ({{Job title}})")
    assert check.unknown == ("jobtitle", "company.industy")
    assert "{{job_title}}" in check.message
    assert "{{company.industry}}" in check.message
    with pytest.raises(AiColumnError, match="jobtitle"):
        service.create(list_id, "Opener", "Hi {{jobtitle}}", "text")
    assert service.check_prompt(list_id, OPENER).ok


def test_output_types_become_strict_schemas_and_answers_are_checked() -> None:
    spec = OutputSpec.build("label", {"labels": "SMB, Mid-market, Enterprise"})
    assert spec.response_schema()["properties"]["value"]["enum"] == ["SMB", "Mid-market", "Enterprise"]
    assert parse_answer(spec, '{"value": "SMB"}').value == "SMB"
    with pytest.raises(OutputError, match="not one of the labels"):
        parse_answer(spec, '{"value": "Huge"}')
    with pytest.raises(OutputError, match="at least two labels"):
        OutputSpec.build("label", {"labels": "Only"})
    assert parse_answer(OutputSpec.build("yes_no"), '{"value": true}').value == "Yes"
    assert parse_answer(OutputSpec.build("number"), '{"value": 42.0}').value == "42"
    text = parse_answer(OutputSpec.build("text", {"max_length": 20}), '{"value": "one two three four five six"}')
    assert text.shortened
    assert len(text.value or "") <= 20
    fixed = strict_schema({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}}}}})
    assert fixed["additionalProperties"] is False
    assert fixed["required"] == ["a"]
    assert fixed["properties"]["a"]["required"] == ["b"]
    with pytest.raises(OutputError, match="extra properties"):
        strict_schema({"type": "object", "properties": {"a": {}}, "additionalProperties": True})


def test_without_a_connection_nothing_is_faked(ctx: Any) -> None:
    list_id, ids = contacts_list(ctx, 3)
    column = AiColumnService(ctx.store).create(list_id, "B2B", B2B, "yes_no")
    status = ai_status(ctx)
    assert not status.ready
    assert "built-in" in status.message
    assert "OpenAI-compatible" in status.message
    with pytest.raises(AiNotConnectedError, match="online service"):
        asyncio.run(run_column(ctx, column.id))
    with pytest.raises(AiNotConnectedError):
        asyncio.run(preview(ctx, column.id, ids))
    assert ctx.runs.count(kind="ai") == 0


@pytest.mark.parametrize("style", ["Chat Completions", "Responses"])
def test_run_writes_values_with_their_prompt_version_skips_empty_rows_and_reruns_free(ctx: Any, style: str) -> None:
    list_id, ids = contacts_list(ctx, 24, empty_titles=[5, 9])
    sandbox, _transport = openai_sandbox(ctx, style=style)
    service = AiColumnService(ctx.store)
    column = service.create(list_id, "B2B", B2B, "yes_no")

    shown = asyncio.run(preview(ctx, column.id, ids[:5]))
    assert [r.value in ("Yes", "No") for r in shown] == [True] * 5
    assert custom_values(ctx, Contact, ids[:5], "B2B") == dict.fromkeys(ids[:5])  # a preview writes nothing

    result = asyncio.run(run_column(ctx, column.id))
    assert result.run.state == "finished"
    c = result.counters
    assert (c["written"], c["skipped_empty"], c["cached"]) == (22, 2, 5)
    assert sandbox.stats.completions == 22  # 5 in the preview, 17 in the run: never a row twice
    values = custom_values(ctx, Contact, ids, "B2B")
    assert values[ids[5]] is None
    assert values[ids[9]] is None
    assert {v for k, v in values.items() if k not in (ids[5], ids[9])} <= {"Yes", "No"}
    skipped = ctx.runs.items(result.run_id, state="skipped")
    assert {i.local_id for i in skipped} == {ids[5], ids[9]}
    assert "{{job_title}}" in (skipped[0].error or "")
    with ctx.store.session() as s:
        assert {r.version for r in s.query(AiResult).filter_by(column_id=column.id)} == {1}

    again = asyncio.run(run_column(ctx, column.id))
    assert again.counters.get("requests", 0) == 0
    assert again.counters["already_done"] == 22
    assert sandbox.stats.completions == 22

    service.update(column.id, prompt=B2B + " Be strict.")
    assert service.get(column.id).version == 2
    third = asyncio.run(run_column(ctx, column.id))
    assert third.counters["requests"] == 22
    assert "custom:B2B" in {f.name for f in ai_fields(ctx.store)}


@pytest.mark.parametrize(("otype", "options", "prompt"), [
    ("yes_no", None, B2B),
    ("text", {"max_length": 140}, OPENER),
    ("label", {"labels": "SMB, Mid-market, Enterprise"}, B2B.replace("B2B?", "Which segment?")),
])
def test_estimate_is_within_15_percent_of_what_the_run_reports(ctx: Any, otype: str, options: Any,
                                                               prompt: str) -> None:
    list_id, _ = contacts_list(ctx, 60)
    _sandbox, _transport = openai_sandbox(ctx)
    column = AiColumnService(ctx.store).create(list_id, "Col", prompt, otype, options)
    guess = estimate(ctx, column.id)
    assert guess.to_ask == 60
    assert guess.cost is not None
    assert guess.cost > 0
    result = asyncio.run(run_column(ctx, column.id))
    actual = result.counters["prompt_tokens"] + result.counters["completion_tokens"]
    assert abs(guess.tokens - actual) / actual <= 0.15, (guess.tokens, actual)


def test_quota_exhausted_stops_the_run_and_resume_does_not_pay_twice(ctx: Any) -> None:
    list_id, ids = contacts_list(ctx, 30)
    sandbox, _transport = openai_sandbox(ctx, OpenAISandboxConfig(credit_tokens=1500))
    column = AiColumnService(ctx.store).create(list_id, "B2B", B2B, "yes_no")
    first = asyncio.run(run_column(ctx, column.id, chunk=5))
    assert first.run.state == "failed"
    assert "insufficient_quota" in (first.run.error or "")
    paid = sandbox.stats.completions
    assert 0 < paid < 30
    assert sandbox.stats.insufficient_quota >= 1
    assert sandbox.stats.insufficient_quota <= 5  # not retried: no storm
    sandbox.config.credit_tokens = None
    resumed = asyncio.run(run_column(ctx, run_id=first.run_id, chunk=5))
    assert resumed.run.state == "finished"
    assert sandbox.stats.completions == 30  # the rows paid before the stop were not asked again
    assert all(v in ("Yes", "No") for v in custom_values(ctx, Contact, ids, "B2B").values())


def test_429_and_5xx_are_retried_and_cancel_then_resume_finishes(ctx: Any) -> None:
    list_id, _ids = contacts_list(ctx, 20)
    sandbox, _transport = openai_sandbox(ctx, OpenAISandboxConfig(fail_every=4))
    column = AiColumnService(ctx.store).create(list_id, "B2B", B2B, "yes_no")
    token = CancelToken()
    seen: list[int] = []

    def progress(p: Any) -> None:
        seen.append(p.done)
        if p.counters.get("written", 0) >= 5:
            token.cancel()

    first = asyncio.run(run_column(ctx, column.id, chunk=5, token=token, progress=progress))
    assert first.run.state == "cancelled"
    assert 5 <= first.counters["written"] < 20
    done = sandbox.stats.completions
    resumed = asyncio.run(run_column(ctx, run_id=first.run_id, chunk=5))
    assert resumed.run.state == "finished"
    assert resumed.counters["failed"] == 0
    assert resumed.counters["written"] == 20
    assert sandbox.stats.completions == 20
    assert done < 20
    assert sandbox.stats.server_errors >= 3  # every 4th answer failed and was asked again


def test_the_budget_follows_the_rate_limit_headers() -> None:
    assert parse_duration("6m0s") == 360
    assert parse_duration("12ms") == pytest.approx(0.012)
    assert parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration("x") is None
    now = [0.0]
    budget = RateBudget(clock=lambda: now[0])

    async def go() -> None:
        await budget.acquire(100)  # the first request discovers the limits
        budget.observe({"x-ratelimit-limit-requests": "60", "x-ratelimit-limit-tokens": "6000",
                        "x-ratelimit-remaining-requests": "2", "x-ratelimit-remaining-tokens": "5000"})
        await budget.acquire(100)
        await budget.acquire(100)
        assert budget.requests is not None
        assert budget.requests.level == pytest.approx(0)

    asyncio.run(go())
    assert budget.limits == (60, 6000)
    assert budget.requests is not None
    assert budget.requests.wait_for(1) == pytest.approx(1.0)
    budget.observe({"x-ratelimit-limit-requests": "60", "x-ratelimit-limit-tokens": "6000",
                    "x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"})
    assert budget.tokens is not None
    assert budget.tokens.wait_for(600) == pytest.approx(6.0)


def test_json_output_keeps_the_users_schema(ctx: Any) -> None:
    list_id, ids = contacts_list(ctx, 4)
    _sandbox, _transport = openai_sandbox(ctx)
    schema = {"type": "object", "properties": {"segment": {"type": "string", "enum": ["a", "b"]},
                                               "score": {"type": "integer"}}}
    column = AiColumnService(ctx.store).create(list_id, "Fit", OPENER, "json", {"schema": json.dumps(schema)})
    result = asyncio.run(run_column(ctx, column.id))
    assert result.counters["written"] == 4
    value = json.loads(custom_values(ctx, Contact, ids[:1], "Fit")[ids[0]])
    assert set(value) == {"segment", "score"}
    assert value["segment"] in ("a", "b")


def test_upgrading_keeps_every_past_run_and_its_journal(tmp_path: Any) -> None:
    import sqlite3

    from alembic import command
    from sqlalchemy import text

    from enginy_desktop.core.store import Store
    from tests.unit.test_migrations_workspace import alembic_config

    db = tmp_path / "enginy.db"
    command.upgrade(alembic_config(db), "0007")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO runs (kind, list_name, state, options, counters, created_at) "
                "VALUES ('export', 'L', 'finished', '{}', '{}', '2026-01-01')")
    con.execute("INSERT INTO run_items (run_id, object, local_id, action, state, attempt, updated_at) "
                "VALUES (1, 'contact', 5, 'create', 'done', 0, '2026-01-01')")
    con.commit()
    con.close()
    store = Store.open(tmp_path)  # foreign keys on, as the app runs its migrations
    try:
        with store.session() as s:
            assert s.execute(text("SELECT count(*) FROM run_items")).scalar() == 1
        with store.write() as s:
            s.execute(text("INSERT INTO runs (kind, list_name, state, options, counters, created_at) "
                           "VALUES ('ai', 'L', 'finished', '{}', '{}', '2026-01-01')"))
    finally:
        store.close()
