"""An AI column is an Enginy field: the CRM wizard's Step 2 offers it, and an export sends its values."""

from __future__ import annotations

import asyncio
from typing import Any

from enginy_desktop.core.ai.columns import AiColumnService
from enginy_desktop.core.ai.run import run_column
from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.core.export.run import export
from enginy_desktop.core.fields import workspace_fields
from enginy_desktop.core.models import Contact
from enginy_desktop.core.services.workspace import WorkspaceService
from tests.support.ai_world import openai_sandbox
from tests.support.export_world import CONTACT_BASICS, enginy, world


def test_an_ai_column_is_mapped_in_step_2_and_exported(ctx: Any) -> None:
    with world(ctx) as w:
        ids = w.contacts("Leads", [
            {"first_name": f"P{i}", "last_name": "Doe", "email": f"p{i}@acme{i}.test", "company_name": f"Acme {i}",
             "job_title": "CEO"} for i in range(6)])
        w.text_property("enginy_opener", "Enginy opener")
        list_id = WorkspaceService(ctx.store).get_list("Leads").id
        crm_adapters = ctx.adapters  # the world's HubSpot over loopback
        _sandbox, _transport = openai_sandbox(ctx)  # OpenAI in-process, for the AI column's run
        column = AiColumnService(ctx.store).create(list_id, "Opener", "Opener for {{first_name}} at {{company_name}}",
                                                   "text", {"max_length": 80})
        state = WizardState("hubspot", ctx.crm_configs.load("hubspot"), enginy_fields=workspace_fields(ctx.store))
        offered = {f.name: f.label for f in state.enginy_choices_fields(ObjectType.CONTACT)}
        assert offered["custom:Opener"] == "Opener (AI)"
        w.configure([*CONTACT_BASICS, enginy("custom:Opener", "enginy_opener", overwrite=True)])
        result = asyncio.run(run_column(ctx, column.id))
        assert result.counters["written"] == 6
        ctx.adapters = crm_adapters
        _plan, outcome = asyncio.run(export(ctx, "Leads"))
        assert outcome.state == "finished"
        assert outcome.counters["created"] == 6
        sent = w.crm_contact("p0@acme0.test")["enginy_opener"]
        with ctx.store.session() as s:
            stored = s.get(Contact, ids[0]).custom_fields["Opener"]
        assert sent == stored
        assert 0 < len(sent) <= 80
