"""Campaigns: the eight campaign properties of a lead (DESIGN §6, Step 3), and the campaign service.

:func:`derive_properties` is a pure function of a campaign's ordered steps and one lead's events; the export
writes its values to the CRM fields mapped in Step 3, and the campaign pages show them. The rules, which
``docs/campaigns.md`` states for users:

* **Messages** are the email and LinkedIn-message steps. LinkedIn connection requests and calls are steps but
  not messages: they never count in ``k/n`` and are never listed as "Message".
* ``k`` is a message's position among the campaign's messages (1-based), ``n`` the number of messages.
* A step is **done** when it has a ``sent`` event (for a call: the call was made).
* Opens and clicks count on email steps only; replies on message steps only. Events that break these rules (an
  open on a LinkedIn message, a reply to a connection request) are ignored here and rejected at import.
* **Engagement status**: ``Added to Campaign`` until a message is sent; then the latest ``sent`` or ``replied``
  event on a message (latest by time; at equal times a reply wins, then the later message):
  ``Message Sent (k/n) - Email`` / ``Message Replied (k/n) - LinkedIn``.
* **Sequence status**: ``Replied`` if any message was replied; else ``Finished`` if every step is done (a
  campaign has at least one step); else ``Ongoing`` if a message was sent; else ``Not Started``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core.models import (
    Campaign,
    CampaignEvent,
    CampaignLead,
    CampaignStep,
    Contact,
    Identity,
)
from enginy_desktop.core.store import Store


class StepKind(StrEnum):
    EMAIL = "email"
    LINKEDIN_MESSAGE = "linkedin_message"
    LINKEDIN_CONNECTION_REQUEST = "linkedin_connection_request"
    CALL = "call"

    @property
    def is_message(self) -> bool:
        return self in (StepKind.EMAIL, StepKind.LINKEDIN_MESSAGE)

    @property
    def channel(self) -> str:
        """The ``campaign_events.channel`` of this kind of step."""
        if self is StepKind.EMAIL:
            return "email"
        if self is StepKind.CALL:
            return "call"
        return "linkedin"

    @property
    def label(self) -> str:
        return {
            StepKind.EMAIL: "Email",
            StepKind.LINKEDIN_MESSAGE: "LinkedIn message",
            StepKind.LINKEDIN_CONNECTION_REQUEST: "LinkedIn connection request",
            StepKind.CALL: "Call",
        }[self]


class EventType(StrEnum):
    ADDED = "added"
    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"


# The Step 3 property names, in the product text's order: the keys of CampaignProperties.as_dict().
PROPERTY_NAMES: tuple[str, ...] = (
    "Campaign Sequence Details",
    "Campaign Engagement Status",
    "Campaign Opens",
    "Campaign Clicks",
    "Campaign Open Analysis",
    "Campaign Click Analysis",
    "Campaign Reply Analysis",
    "Sequence Status",
)

ADDED_TO_CAMPAIGN = "Added to Campaign"
NOT_STARTED, ONGOING, REPLIED, FINISHED = "Not Started", "Ongoing", "Replied", "Finished"


def ordinal(n: int) -> str:
    """English ordinal: 1st 2nd 3rd 4th … 11th 12th 13th … 21st 22nd 23rd … 101st 111th 112th."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True, slots=True)
class Step:
    position: int  # 1-based order in the campaign
    kind: StepKind


@dataclass(frozen=True, slots=True)
class Event:
    step: int | None  # the step's position; None for "added"
    type: EventType
    at: datetime


@dataclass(frozen=True, slots=True)
class CampaignProperties:
    sequence_details: str
    engagement_status: str
    opens: int
    clicks: int
    open_analysis: str
    click_analysis: str
    reply_analysis: str
    sequence_status: str

    def as_dict(self) -> dict[str, str | int]:
        """Property name (as in Step 3) -> value."""
        return dict(
            zip(
                PROPERTY_NAMES,
                (
                    self.sequence_details,
                    self.engagement_status,
                    self.opens,
                    self.clicks,
                    self.open_analysis,
                    self.click_analysis,
                    self.reply_analysis,
                    self.sequence_status,
                ),
                strict=True,
            )
        )


def sequence_details(steps: Sequence[Step]) -> str:
    """``1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn`` (calls: ``1st Call``)."""
    counters: dict[StepKind, int] = {}
    parts = []
    for step in sorted(steps, key=lambda s: s.position):
        if step.kind is StepKind.LINKEDIN_CONNECTION_REQUEST:
            parts.append("LinkedIn Connection Request")
            continue
        counters[step.kind] = counters.get(step.kind, 0) + 1
        noun = {StepKind.EMAIL: "Email", StepKind.LINKEDIN_MESSAGE: "LinkedIn", StepKind.CALL: "Call"}[step.kind]
        parts.append(f"{ordinal(counters[step.kind])} {noun}")
    return ", ".join(parts)


def _analysis(message_numbers: Iterable[int]) -> str:
    numbers = sorted(set(message_numbers))
    if not numbers:
        return "No"
    return "Yes (" + ", ".join(f"{ordinal(k)} Message" for k in numbers) + ")"


_TYPE_RANK = {EventType.SENT: 0, EventType.REPLIED: 1}


def derive_properties(steps: Sequence[Step], events: Iterable[Event]) -> CampaignProperties:
    """The eight campaign properties of one lead, from the campaign's steps and that lead's events."""
    ordered = sorted(steps, key=lambda s: s.position)
    by_position = {s.position: s for s in ordered}
    message_number: dict[int, int] = {}
    for s in ordered:
        if s.kind.is_message:
            message_number[s.position] = len(message_number) + 1
    n_messages = len(message_number)

    opens = clicks = 0
    opened: set[int] = set()
    clicked: set[int] = set()
    replied: set[int] = set()
    done: set[int] = set()
    latest: tuple[datetime, int, int] | None = None  # (time, rank, message number)
    latest_event: tuple[EventType, Step] | None = None
    for event in events:
        step = by_position.get(event.step) if event.step is not None else None
        if step is None:
            continue  # "added", or an event of a step the campaign does not have
        k = message_number.get(step.position)
        if event.type is EventType.SENT:
            done.add(step.position)
        if k is None:
            continue  # connection requests and calls only count as done steps
        if event.type in (EventType.OPENED, EventType.CLICKED):
            if step.kind is not StepKind.EMAIL:
                continue
            if event.type is EventType.OPENED:
                opens += 1
                opened.add(k)
            else:
                clicks += 1
                clicked.add(k)
            continue
        if event.type is EventType.REPLIED:
            replied.add(k)
        if event.type in _TYPE_RANK:
            at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
            key = (at, _TYPE_RANK[event.type], k)
            if latest is None or key > latest:
                latest, latest_event = key, (event.type, step)

    if latest_event is None:
        engagement = ADDED_TO_CAMPAIGN
    else:
        etype, last_step = latest_event
        verb = "Replied" if etype is EventType.REPLIED else "Sent"
        channel = "Email" if last_step.kind is StepKind.EMAIL else "LinkedIn"
        engagement = f"Message {verb} ({message_number[last_step.position]}/{n_messages}) - {channel}"

    any_message_sent = any(p in message_number for p in done)
    if replied:
        status = REPLIED
    elif ordered and len(done) == len(ordered):
        status = FINISHED
    elif any_message_sent:
        status = ONGOING
    else:
        status = NOT_STARTED

    return CampaignProperties(
        sequence_details=sequence_details(ordered),
        engagement_status=engagement,
        opens=opens,
        clicks=clicks,
        open_analysis=_analysis(opened),
        click_analysis=_analysis(clicked),
        reply_analysis=_analysis(replied),
        sequence_status=status,
    )


def event_problem(step: Step | None, event_type: EventType) -> str | None:
    """Why an event cannot belong to ``step`` (None when it can): the import's rejection reason."""
    if event_type is EventType.ADDED:
        return None
    if step is None:
        return f"A '{event_type.value}' event needs the step it belongs to."
    if event_type in (EventType.OPENED, EventType.CLICKED) and step.kind is not StepKind.EMAIL:
        return f"Step {step.position} is a {step.kind.label}: only emails can be {event_type.value}."
    if event_type is EventType.REPLIED and not step.kind.is_message:
        return (
            f"Step {step.position} is a {step.kind.label}: only messages (emails and LinkedIn messages) can "
            "be replied."
        )
    return None


# -- the service ------------------------------------------------------------------------------------------------
class CampaignError(Exception):
    """A user-readable refusal."""


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    id: int
    kind: str
    name: str
    address: str

    @property
    def display(self) -> str:
        return f"{self.name} <{self.address}>" if self.name and self.name != self.address else self.address

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "address": self.address}


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    identity: IdentityInfo
    steps: tuple[Step, ...]
    lead_count: int
    created_at: datetime

    @property
    def sequence_details(self) -> str:
        return sequence_details(self.steps)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "identity": self.identity.as_json(),
            "steps": [{"step": s.position, "type": s.kind.value} for s in self.steps],
            "sequence_details": self.sequence_details,
            "leads": self.lead_count,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class LeadInfo:
    lead_id: int
    contact_id: int
    name: str
    email: str | None
    linkedin_url: str | None
    added_at: datetime
    properties: CampaignProperties

    def as_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "email": self.email,
            "linkedin_url": self.linkedin_url,
            "added_at": self.added_at.isoformat(),
            "properties": self.properties.as_dict(),
        }


def _identity_info(identity: Identity) -> IdentityInfo:
    return IdentityInfo(identity.id, identity.kind, identity.name, identity.address)


class CampaignService:
    """Campaigns with their steps, leads and derived properties; plain dataclasses out, never ORM objects."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _info(self, session: Any, campaign: Campaign) -> CampaignInfo:
        steps = tuple(
            Step(s.position, StepKind(s.kind))
            for s in session.scalars(
                select(CampaignStep).where(CampaignStep.campaign_id == campaign.id).order_by(CampaignStep.position)
            )
        )
        leads = session.scalar(select(func.count()).where(CampaignLead.campaign_id == campaign.id)) or 0
        identity = session.get(Identity, campaign.identity_id)
        return CampaignInfo(campaign.id, campaign.name, _identity_info(identity), steps, leads, campaign.created_at)

    def list_campaigns(self) -> list[CampaignInfo]:
        with self.store.session() as s:
            return [self._info(s, c) for c in s.scalars(select(Campaign).order_by(Campaign.name))]

    def get(self, name_or_id: str | int) -> CampaignInfo:
        with self.store.session() as s:
            campaign = self._find(s, name_or_id)
            return self._info(s, campaign)

    def _find(self, session: Any, name_or_id: str | int) -> Campaign:
        if isinstance(name_or_id, int):
            campaign = session.get(Campaign, name_or_id)
        else:
            campaign = session.scalar(select(Campaign).where(Campaign.name == name_or_id.strip()))
        if campaign is None:
            names = ", ".join(session.scalars(select(Campaign.name).order_by(Campaign.name))) or "none yet"
            raise CampaignError(f"There is no campaign named '{name_or_id}'. Campaigns: {names}.")
        return campaign

    def create(self, name: str, identity_id: int, steps: Sequence[StepKind | str]) -> CampaignInfo:
        name = name.strip()
        if not name:
            raise CampaignError("A campaign needs a name.")
        kinds = [StepKind(k) for k in steps]
        if not kinds:
            raise CampaignError("A campaign needs at least one step.")
        try:
            with self.store.write() as s:
                if s.get(Identity, identity_id) is None:
                    raise CampaignError("Choose the identity that runs this campaign (it was not found).")
                campaign = Campaign(name=name, identity_id=identity_id)
                s.add(campaign)
                s.flush()
                s.add_all(CampaignStep(campaign_id=campaign.id, position=i, kind=k.value)
                          for i, k in enumerate(kinds, 1))
                s.flush()
                return self._info(s, campaign)
        except IntegrityError:
            raise CampaignError(f"A campaign named '{name}' already exists.") from None

    def delete(self, campaign_id: int) -> None:
        with self.store.write() as s:
            s.execute(delete(Campaign).where(Campaign.id == campaign_id))

    def add_lead(self, campaign_id: int, contact_id: int, added_at: datetime | None = None) -> int:
        """The lead id of ``contact_id`` in the campaign, adding it when needed."""
        with self.store.write() as s:
            lead = s.scalar(
                select(CampaignLead).where(
                    CampaignLead.campaign_id == campaign_id, CampaignLead.contact_id == contact_id
                )
            )
            if lead is None:
                if s.get(Contact, contact_id) is None:
                    raise CampaignError("That contact no longer exists.")
                lead = CampaignLead(campaign_id=campaign_id, contact_id=contact_id)
                if added_at is not None:
                    lead.added_at = added_at
                s.add(lead)
                s.flush()
            return lead.id

    def record_event(self, lead_id: int, step_position: int | None, event_type: EventType | str, at: datetime) -> bool:
        """Record one event; False when it was already recorded. Raises :class:`CampaignError` if impossible."""
        event_type = EventType(event_type)
        with self.store.write() as s:
            lead = s.get(CampaignLead, lead_id)
            if lead is None:
                raise CampaignError("That lead is not in the campaign.")
            step_row = None
            if step_position is not None:
                step_row = s.scalar(
                    select(CampaignStep).where(
                        CampaignStep.campaign_id == lead.campaign_id, CampaignStep.position == step_position
                    )
                )
                if step_row is None:
                    raise CampaignError(f"The campaign has no step {step_position}.")
            step = Step(step_row.position, StepKind(step_row.kind)) if step_row else None
            problem = event_problem(step, event_type)
            if problem:
                raise CampaignError(problem)
            exists = s.scalar(
                select(CampaignEvent.id).where(
                    CampaignEvent.lead_id == lead_id,
                    CampaignEvent.step_id == (step_row.id if step_row else None),
                    CampaignEvent.type == event_type.value,
                    CampaignEvent.occurred_at == at,
                )
            )
            if exists:
                return False
            s.add(
                CampaignEvent(
                    lead_id=lead_id,
                    step_id=step_row.id if step_row else None,
                    type=event_type.value,
                    occurred_at=at,
                    channel=step.kind.channel if step else None,
                )
            )
            return True

    def leads(self, name_or_id: str | int, *, offset: int = 0, limit: int | None = None) -> list[LeadInfo]:
        """The campaign's leads (in the order they were added) with their derived properties."""
        with self.store.session() as s:
            campaign = self._find(s, name_or_id)
            step_rows = s.execute(
                select(CampaignStep.id, CampaignStep.position, CampaignStep.kind).where(
                    CampaignStep.campaign_id == campaign.id
                )
            ).all()
            steps = [Step(pos, StepKind(kind)) for _id, pos, kind in step_rows]
            position_of = {sid: pos for sid, pos, _kind in step_rows}
            q = (
                select(
                    CampaignLead.id, CampaignLead.contact_id, CampaignLead.added_at,
                    Contact.full_name, Contact.email, Contact.linkedin_url,
                )
                .join(Contact, Contact.id == CampaignLead.contact_id)
                .where(CampaignLead.campaign_id == campaign.id)
                .order_by(CampaignLead.added_at, CampaignLead.id)
                .offset(offset)
            )
            if limit is not None:
                q = q.limit(limit)
            leads = s.execute(q).all()
            events: dict[int, list[Event]] = {lead.id: [] for lead in leads}
            ids = list(events)
            for i in range(0, len(ids), 900):
                for lead_id, step_id, etype, at in s.execute(
                    select(
                        CampaignEvent.lead_id, CampaignEvent.step_id, CampaignEvent.type, CampaignEvent.occurred_at
                    ).where(CampaignEvent.lead_id.in_(ids[i : i + 900]))
                ):
                    events[lead_id].append(
                        Event(position_of.get(step_id) if step_id else None, EventType(etype), at)
                    )
            return [
                LeadInfo(
                    lead.id, lead.contact_id, lead.full_name or lead.email or lead.linkedin_url or "",
                    lead.email, lead.linkedin_url, lead.added_at, derive_properties(steps, events[lead.id]),
                )
                for lead in leads
            ]
