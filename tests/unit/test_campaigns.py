"""Campaign properties (DESIGN §6, Step 3) as a pure function, the campaign CSV import, and the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enginy_desktop.core.campaigns import (
    CampaignError,
    CampaignService,
    Event,
    EventType,
    Step,
    StepKind,
    derive_properties,
    event_problem,
    ordinal,
    sequence_details,
)
from enginy_desktop.core.importers.campaign_import import (
    import_definition,
    import_events,
    parse_timestamp,
    read_definition,
)
from enginy_desktop.core.importers.csv_import import import_csv
from enginy_desktop.core.importers.rows import ImportFileError
from enginy_desktop.core.store import Store

E, LM, CR, CALL = StepKind.EMAIL, StepKind.LINKEDIN_MESSAGE, StepKind.LINKEDIN_CONNECTION_REQUEST, StepKind.CALL
SENT, OPENED, CLICKED, REPLIED, ADDED = (
    EventType.SENT, EventType.OPENED, EventType.CLICKED, EventType.REPLIED, EventType.ADDED,
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def steps(*kinds: StepKind) -> list[Step]:
    return [Step(i, k) for i, k in enumerate(kinds, 1)]


def ev(step: int | None, kind: EventType, minute: int) -> Event:
    return Event(step, kind, T0 + timedelta(minutes=minute))


# -- ordinals and sequence details -------------------------------------------------------------------------------
def test_ordinals() -> None:
    assert [ordinal(n) for n in range(1, 24)] == [
        "1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th", "13th", "14th",
        "15th", "16th", "17th", "18th", "19th", "20th", "21st", "22nd", "23rd",
    ]
    assert [ordinal(n) for n in (100, 101, 102, 103, 104, 111, 112, 113, 121, 1001, 1011)] == [
        "100th", "101st", "102nd", "103rd", "104th", "111th", "112th", "113th", "121st", "1001st", "1011th",
    ]


def test_sequence_details_follow_the_product_text() -> None:
    assert sequence_details(steps(E, E, CR, LM)) == "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn"
    assert sequence_details(steps(CR, LM, E, LM, CALL, CALL)) == (
        "LinkedIn Connection Request, 1st LinkedIn, 1st Email, 2nd LinkedIn, 1st Call, 2nd Call"
    )
    many = sequence_details(steps(*([E] * 23)))
    assert many.startswith("1st Email, 2nd Email, 3rd Email, 4th Email")
    assert many.endswith("11th Email, 12th Email, 13th Email, 14th Email, 15th Email, 16th Email, 17th Email, "
                         "18th Email, 19th Email, 20th Email, 21st Email, 22nd Email, 23rd Email")


# -- the eight properties ----------------------------------------------------------------------------------------
def test_no_events_yet() -> None:
    props = derive_properties(steps(E, E, CR, LM), [])
    assert props.as_dict() == {
        "Campaign Sequence Details": "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn",
        "Campaign Engagement Status": "Added to Campaign",
        "Campaign Opens": 0,
        "Campaign Clicks": 0,
        "Campaign Open Analysis": "No",
        "Campaign Click Analysis": "No",
        "Campaign Reply Analysis": "No",
        "Sequence Status": "Not Started",
    }
    assert derive_properties(steps(E), [ev(None, ADDED, 0)]).engagement_status == "Added to Campaign"


def test_product_text_example_reply_on_linkedin() -> None:
    props = derive_properties(
        steps(E, E, CR, LM),
        [ev(1, SENT, 0), ev(1, OPENED, 5), ev(2, SENT, 60), ev(3, SENT, 120), ev(4, SENT, 180), ev(4, REPLIED, 200)],
    )
    assert props.engagement_status == "Message Replied (3/3) - LinkedIn"
    assert props.reply_analysis == "Yes (3rd Message)"
    assert props.sequence_status == "Replied"
    assert props.opens == 1
    assert props.open_analysis == "Yes (1st Message)"


def test_message_sent_counts_messages_only() -> None:
    # The connection request is step 1 but not a message: the first email is message 1 of 2.
    props = derive_properties(steps(CR, E, LM), [ev(1, SENT, 0), ev(2, SENT, 10)])
    assert props.engagement_status == "Message Sent (1/2) - Email"
    assert props.sequence_status == "Ongoing"
    # Only a connection request sent: no message yet.
    props = derive_properties(steps(CR, E, LM), [ev(1, SENT, 0)])
    assert (props.engagement_status, props.sequence_status) == ("Added to Campaign", "Not Started")


def test_opens_and_clicks_on_several_messages() -> None:
    props = derive_properties(
        steps(E, LM, E, E),
        [
            ev(1, SENT, 0), ev(1, OPENED, 1), ev(1, OPENED, 2), ev(1, CLICKED, 3),
            ev(2, SENT, 10), ev(3, SENT, 20), ev(3, OPENED, 21), ev(4, SENT, 30), ev(4, OPENED, 31),
            ev(4, CLICKED, 32), ev(4, CLICKED, 33),
        ],
    )
    assert (props.opens, props.clicks) == (4, 3)
    assert props.open_analysis == "Yes (1st Message, 3rd Message, 4th Message)"
    assert props.click_analysis == "Yes (1st Message, 4th Message)"
    assert props.reply_analysis == "No"
    assert props.engagement_status == "Message Sent (4/4) - Email"
    assert props.sequence_status == "Finished"


def test_finished_needs_every_step_done_including_calls_and_requests() -> None:
    seq = steps(E, CR, CALL)
    assert derive_properties(seq, [ev(1, SENT, 0), ev(2, SENT, 1)]).sequence_status == "Ongoing"
    assert derive_properties(seq, [ev(1, SENT, 0), ev(2, SENT, 1), ev(3, SENT, 2)]).sequence_status == "Finished"
    # A reply anywhere wins over Finished.
    assert derive_properties(seq, [ev(1, SENT, 0), ev(2, SENT, 1), ev(3, SENT, 2), ev(1, REPLIED, 3)]) \
        .sequence_status == "Replied"


def test_latest_of_sent_and_replied_is_the_engagement_status() -> None:
    seq = steps(E, E, LM)
    # A reply to message 1, then message 2 sent later: the latest event is the send.
    props = derive_properties(seq, [ev(1, SENT, 0), ev(1, REPLIED, 5), ev(2, SENT, 10)])
    assert props.engagement_status == "Message Sent (2/3) - Email"
    assert props.sequence_status == "Replied"
    assert props.reply_analysis == "Yes (1st Message)"
    # Same instant: the reply wins.
    props = derive_properties(seq, [ev(1, SENT, 0), ev(2, SENT, 10), ev(1, REPLIED, 10)])
    assert props.engagement_status == "Message Replied (1/3) - Email"
    # Events given in any order.
    props = derive_properties(seq, [ev(3, SENT, 30), ev(1, SENT, 0), ev(2, SENT, 10)])
    assert props.engagement_status == "Message Sent (3/3) - LinkedIn"


def test_rule_breaking_events_are_ignored() -> None:
    props = derive_properties(steps(LM, CR), [ev(1, SENT, 0), ev(1, OPENED, 1), ev(2, REPLIED, 2), ev(9, SENT, 3)])
    assert (props.opens, props.reply_analysis, props.sequence_status) == (0, "No", "Ongoing")
    assert event_problem(Step(1, LM), OPENED) is not None
    assert event_problem(Step(1, CR), REPLIED) is not None
    assert event_problem(Step(1, CALL), REPLIED) is not None
    assert event_problem(None, SENT) is not None
    assert event_problem(None, ADDED) is None
    assert event_problem(Step(1, E), CLICKED) is None


def test_naive_and_aware_times_compare() -> None:
    naive = datetime(2026, 3, 2, 10, 0)  # noqa: DTZ001 - the store hands back naive UTC times
    props = derive_properties(steps(E, E), [Event(1, SENT, naive), ev(2, SENT, 30)])
    assert props.engagement_status == "Message Sent (1/2) - Email"  # 10:00 UTC is after 09:30 UTC


_kinds = st.sampled_from(list(StepKind))


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(_kinds, min_size=1, max_size=25),
    raw=st.lists(
        st.tuples(st.integers(1, 26), st.sampled_from([SENT, OPENED, CLICKED, REPLIED]), st.integers(0, 50)),
        max_size=40,
    ),
)
def test_properties_over_many_sequences(kinds: list[StepKind], raw: list[tuple[int, EventType, int]]) -> None:
    seq = steps(*kinds)
    events = [ev(s, t, m) for s, t, m in raw]
    props = derive_properties(seq, events)
    messages = [s.position for s in seq if s.kind.is_message]
    k_of = {pos: i + 1 for i, pos in enumerate(messages)}
    valid = [e for e in events if e.step is not None and e.step <= len(seq)]
    email_steps = {s.position for s in seq if s.kind is E}
    assert props.opens == sum(1 for e in valid if e.type is OPENED and e.step in email_steps)
    assert props.clicks == sum(1 for e in valid if e.type is CLICKED and e.step in email_steps)
    replied = sorted({k_of[e.step] for e in valid if e.type is REPLIED and e.step in k_of})
    expected = "No" if not replied else "Yes (" + ", ".join(f"{ordinal(k)} Message" for k in replied) + ")"
    assert props.reply_analysis == expected
    sent = {e.step for e in valid if e.type is SENT}
    if replied:
        assert props.sequence_status == "Replied"
    elif len(sent) == len(seq):
        assert props.sequence_status == "Finished"
    elif sent & set(messages):
        assert props.sequence_status == "Ongoing"
    else:
        assert props.sequence_status == "Not Started"
    if not (sent | {e.step for e in valid if e.type is REPLIED}) & set(messages):
        assert props.engagement_status == "Added to Campaign"
    else:
        assert props.engagement_status.startswith(("Message Sent (", "Message Replied ("))
        assert props.engagement_status.endswith((f"/{len(messages)}) - Email", f"/{len(messages)}) - LinkedIn"))
    assert props.sequence_details.count(",") == len(seq) - 1


# -- import and service --------------------------------------------------------------------------------------------
DEFINITION = (
    "campaign,identity,identity_name,step,type\n"
    "Q3 Outreach,ana@enginy.ai,Ana García,1,Email\n"
    "Q3 Outreach,,,2,email\n"
    "Q3 Outreach,,,3,LinkedIn connection request\n"
    "Q3 Outreach,,,4,linkedin_message\n"
    "Social,https://www.linkedin.com/in/ana-garcia,Ana on LinkedIn,1,connection request\n"
    "Social,,,2,linkedin\n"
)
EVENTS = (
    "campaign,email,linkedin,step,event,timestamp\n"
    "Q3 Outreach,jane@acme.com,,,added,2026-03-01 08:00\n"  # 2
    "Q3 Outreach,jane@acme.com,,1,sent,2026-03-02 09:00\n"  # 3
    "Q3 Outreach,JANE@acme.com,,1,opened,2026-03-02T10:00:00Z\n"  # 4
    "Q3 Outreach,jane@acme.com,,2,sent,2026-03-05 09:00\n"  # 5
    "Q3 Outreach,jane@acme.com,,3,sent,2026-03-06 09:00\n"  # 6
    "Q3 Outreach,jane@acme.com,,4,sent,07/03/2026 09:00\n"  # 7
    "Q3 Outreach,jane@acme.com,,4,replied,2026-03-07 11:00\n"  # 8
    "Q3 Outreach,,linkedin.com/in/Bob,1,sent,2026-03-02 09:00\n"  # 9
    "Q3 Outreach,ghost@x.com,,1,sent,2026-03-02 09:00\n"  # 10 rejected: no such contact
    "Q3 Outreach,jane@acme.com,,4,opened,2026-03-07 10:00\n"  # 11 rejected: LinkedIn messages are not opened
    "Q3 Outreach,jane@acme.com,,9,sent,2026-03-07 10:00\n"  # 12 rejected: no step 9
    "Nope,jane@acme.com,,1,sent,2026-03-07 10:00\n"  # 13 rejected: no campaign
    "Q3 Outreach,jane@acme.com,,1,bounced,2026-03-07 10:00\n"  # 14 rejected: unknown event
    "Q3 Outreach,jane@acme.com,,1,sent,yesterday\n"  # 15 rejected: bad time
)


@pytest.fixture
def store(data_dir: Path):  # type: ignore[no-untyped-def]
    s = Store.open(data_dir)
    yield s
    s.close()


def _setup(store: Store, tmp_path: Path) -> CampaignService:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Name,Email,LinkedIn\nJane Doe,jane@acme.com,\nBob Roe,,https://linkedin.com/in/bob\n")
    import_csv(store, contacts, list_name="Leads")
    (tmp_path / "campaign.csv").write_text(DEFINITION)
    (tmp_path / "events.csv").write_text(EVENTS)
    result = import_definition(store, tmp_path / "campaign.csv")
    assert result.created == ["Q3 Outreach", "Social"]
    return CampaignService(store)


def test_import_definition_and_events_then_show_properties(store: Store, tmp_path: Path) -> None:
    service = _setup(store, tmp_path)
    report = tmp_path / "reports" / "events.csv"
    result = import_events(store, tmp_path / "events.csv", report_path=report)
    assert (result.rows_read, result.recorded, result.rejected, result.leads_added) == (14, 8, 6, 2)
    assert [i.line for i in result.issues] == [10, 11, 12, 13, 14, 15]
    assert "No contact has the email" in result.issues[0].reason
    assert "only emails can be opened" in result.issues[1].reason
    assert report.read_text(encoding="utf-8-sig").count("\n") == 7

    campaigns = {c.name: c for c in service.list_campaigns()}
    q3 = campaigns["Q3 Outreach"]
    assert q3.identity.kind == "email"
    assert q3.identity.display == "Ana García <ana@enginy.ai>"
    assert q3.sequence_details == "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn"
    assert campaigns["Social"].identity.address == "https://www.linkedin.com/in/ana-garcia"
    leads = {lead.name: lead for lead in service.leads("q3 outreach")}
    assert leads["Jane Doe"].properties.as_dict() == {
        "Campaign Sequence Details": "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn",
        "Campaign Engagement Status": "Message Replied (3/3) - LinkedIn",
        "Campaign Opens": 1,
        "Campaign Clicks": 0,
        "Campaign Open Analysis": "Yes (1st Message)",
        "Campaign Click Analysis": "No",
        "Campaign Reply Analysis": "Yes (3rd Message)",
        "Sequence Status": "Replied",
    }
    assert leads["Jane Doe"].added_at == datetime(2026, 3, 1, 8, 0)  # noqa: DTZ001 - stored as naive UTC
    assert leads["Bob Roe"].properties.engagement_status == "Message Sent (1/3) - Email"

    again = import_events(store, tmp_path / "events.csv")
    assert (again.recorded, again.already_recorded, again.rejected) == (0, 8, 6)


def test_events_can_create_missing_leads_in_a_list(store: Store, tmp_path: Path) -> None:
    _setup(store, tmp_path)
    result = import_events(store, tmp_path / "events.csv", list_name="From campaign")
    assert result.contacts_created == 1
    assert result.rejected == 5


def test_events_without_campaign_column_need_one(store: Store, tmp_path: Path) -> None:
    _setup(store, tmp_path)
    path = tmp_path / "e2.csv"
    path.write_text("Email;Step;Event;Date\njane@acme.com;1;sent;2026-03-02 09:00\n")
    with pytest.raises(ImportFileError, match="no 'campaign' column"):
        import_events(store, path)
    result = import_events(store, path, campaign="Q3 Outreach")
    assert result.recorded == 1


def test_definition_problems_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    cases = {
        "campaign,identity,step,type\nA,ana@x.com,1,fax\n": "line 2: unknown step type 'fax'",
        "campaign,identity,step,type\nA,ana@x.com,1,email\nA,,3,email\n": "has no step 2",
        "campaign,identity,step,type\nA,ana@x.com,one,email\n": "line 2: the step must be a number",
        "campaign,identity,step,type\nA,,1,email\n": "has no identity",
        "campaign,identity,step,type\nA,not-an-address,1,email\n": "not a valid email",
        "campaign,step,type\nA,1,email\n": "no column 'identity'",
        "campaign,identity,step,type\nA,a@x.com,1,email\nA,b@x.com,2,email\n": "line 3: campaign 'A' already has",
        "campaign,identity,step,type\nA,a@x.com,1,email\nA,,1,email\n": "line 3: campaign 'A' has step 1 twice",
    }
    for content, message in cases.items():
        path.write_text(content)
        with pytest.raises(ImportFileError, match=message):
            read_definition(path)


def test_redefining_a_campaign(store: Store, tmp_path: Path) -> None:
    _setup(store, tmp_path)
    assert import_definition(store, tmp_path / "campaign.csv").unchanged == ["Q3 Outreach", "Social"]
    changed = tmp_path / "changed.csv"
    changed.write_text("campaign,identity,step,type\nSocial,https://linkedin.com/in/ana-garcia,1,linkedin\n")
    assert import_definition(store, changed).replaced == ["Social"]  # no leads yet: steps may change
    import_events(store, tmp_path / "events.csv")
    changed.write_text("campaign,identity,step,type\nQ3 Outreach,ana@enginy.ai,1,email\n")
    with pytest.raises(ImportFileError, match="has 2 leads; its steps cannot change"):
        import_definition(store, changed)


def test_service_create_record_and_refusals(store: Store, tmp_path: Path) -> None:
    _setup(store, tmp_path)
    service = CampaignService(store)
    identity = service.get("Social").identity
    created = service.create("Calls", identity.id, ["email", "call"])
    assert created.sequence_details == "1st Email, 1st Call"
    with pytest.raises(CampaignError, match="already exists"):
        service.create("calls", identity.id, ["email"])
    with pytest.raises(CampaignError, match="no campaign named 'Missing'"):
        service.get("Missing")
    lead = service.add_lead(created.id, 1)
    assert service.add_lead(created.id, 1) == lead
    assert service.record_event(lead, 1, "sent", T0)
    assert not service.record_event(lead, 1, "sent", T0)
    with pytest.raises(CampaignError, match="only messages"):
        service.record_event(lead, 2, "replied", T0)
    [info] = service.leads("Calls")
    assert info.properties.sequence_status == "Ongoing"
    service.delete(created.id)
    assert "Calls" not in {c.name for c in service.list_campaigns()}


def test_timestamps() -> None:
    assert parse_timestamp("2026-03-02 09:15") == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert parse_timestamp("2026-03-02T09:15:00+01:00") == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert parse_timestamp("02/03/2026") == datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_timestamp("soon")
