"""Step 4: User Mapping — each Enginy identity and each Enginy user to a CRM user, and a default owner."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from enginy_desktop.core.crm_config import Problem, Step
from enginy_desktop.core.crm_wizard import WizardState

from . import loader as L
from .base import StepPage, message_label, show_messages
from .widgets import UserPicker, button, caption, set_state

INTRO = (
    "This final step defines the associations between Enginy users/identities and CRM users so that exports and "
    "activity logs are attributed to the correct people."
)
IDENTITIES_HELP = (
    "An Identity in Enginy is the profile that runs a campaign (for example, a LinkedIn profile or an email "
    "sender). When a campaign — which is always linked to an identity — performs a sync or export, the CRM "
    "activity log shows the associated CRM user as the one who executed the action."
)
USERS_HELP = (
    "Links an Enginy user account to a CRM user. This sets the default owner for any record exported by that "
    "user. A record exported by an Enginy user is owned by the mapped CRM user and is governed by that CRM user's "
    "permissions."
)
DEFAULT_OWNER_HELP = (
    "Owns the records and activities of identities and users left unmapped above. Without one, the CRM's own "
    "default applies (usually the connected user)."
)
WRONG_USER_TIP = (
    "If the CRM activity log shows the wrong user, check here that each Enginy identity and user is linked to the "
    "correct CRM user."
)


class PersonRow(QWidget):
    """One identity or user: name and detail, the CRM user picker, and a flag when unmapped."""

    def __init__(self, section: PeopleSection, person_id: str, name: str, detail: str) -> None:
        super().__init__()
        self.section = section
        self.person_id = person_id
        self.setObjectName(f"{section.kind}-{person_id}")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        label = QLabel(name)
        label.setObjectName("personName")
        grid.addWidget(label, 0, 0)
        if detail:
            grid.addWidget(caption(detail), 1, 0)
        self.picker = UserPicker("Not mapped")
        self.picker.setObjectName("personCrmUser")
        self.picker.setAccessibleName(f"{name}: CRM user")
        self.picker.valueChanged.connect(self._on_user)
        grid.addWidget(self.picker, 0, 1, 2, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.message = message_label()
        grid.addWidget(self.message, 2, 0, 1, 2)

    def render_state(self) -> None:
        state = self.section.page.state
        current = self.section.mapping().get(self.person_id, "")
        self.picker.set_users(state.user_choices(), current)

    def _on_user(self, user_id: str) -> None:
        self.section.setter(self.person_id, user_id or None)
        self.section.page.edited()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        severity = show_messages(self.message, problems)
        set_state(self, "unmapped", "true" if any(p.code.startswith("unmapped") for p in problems) else "false")
        set_state(self, "invalid", "true" if severity == "error" else "false")


class PeopleSection(QFrame):
    def __init__(self, page: UsersPage, kind: str, title: str, help_text: str, people: dict[str, str],
                 details: dict[str, str], mapping: Callable[[], dict[str, str]],
                 setter: Callable[[str, str | None], None], empty: str) -> None:  # fmt: skip
        super().__init__()
        self.page = page
        self.kind = kind
        self.mapping = mapping
        self.setter = setter
        self.setObjectName(f"{kind}Mapping")
        self.setProperty("section", "true")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        head = QLabel(title)
        head.setObjectName("sectionTitle")
        lay.addWidget(head)
        lay.addWidget(caption(help_text))
        self.summary = caption("", "mappingSummary")
        lay.addWidget(self.summary)
        self.rows = [PersonRow(self, pid, name, details.get(pid, "")) for pid, name in people.items()]
        for row in self.rows:
            lay.addWidget(row)
        if not self.rows:
            lay.addWidget(caption(empty, "emptyRows"))

    def render_state(self) -> None:
        for row in self.rows:
            row.render_state()
        self.render_summary()

    def render_summary(self) -> None:
        missing = [r for r in self.rows if r.person_id not in self.mapping()]
        if self.rows:
            self.summary.setText(
                f"⚠ {len(missing)} of {len(self.rows)} not mapped to a CRM user." if missing else
                f"All {len(self.rows)} mapped to a CRM user.")  # fmt: skip
        set_state(self.summary, "severity", "warning" if missing else "")
        self.summary.setVisible(bool(self.rows))

    def show_problems(self, problems: Sequence[Problem]) -> None:
        for i, row in enumerate(self.rows, 1):
            row.show_problems([p for p in problems if p.location.row == i])


class UsersPage(StepPage):
    step = Step.USERS

    def __init__(self, state: WizardState, data: L.CrmDataLoader) -> None:
        super().__init__(state, data, "Step 4: User Mapping", INTRO)
        people = state.people
        tools = QHBoxLayout()
        tools.addWidget(caption(WRONG_USER_TIP), 1)
        self.suggest = button("Match by email")
        self.suggest.setObjectName("suggestUsers")
        self.suggest.setToolTip("Map unmapped identities and users to the CRM users with the same email (or name)")
        self.suggest.clicked.connect(self.apply_suggestions)
        tools.addWidget(self.suggest)
        self.body.addLayout(tools)
        self.identities = PeopleSection(
            self, "identity", "Identities Mapping", IDENTITIES_HELP, people.identities, people.identity_details,
            lambda: self.state.config.identity_mappings, state.set_identity_user,
            "No identities in this workspace yet: add them on the Team & identities page (importing a campaign "
            "adds its identity too).",
        )  # fmt: skip
        self.users = PeopleSection(
            self, "user", "Users Mapping", USERS_HELP, people.users,
            {k: v for k, v in people.user_emails.items() if v},
            lambda: self.state.config.user_mappings, state.set_app_user,
            "No Enginy users in this workspace yet: add them on the Team & identities page.",
        )  # fmt: skip
        self.body.addWidget(self.identities)
        self.body.addWidget(self.users)
        owner = QFrame()
        owner.setObjectName("defaultOwner")
        owner.setProperty("section", "true")
        lay = QVBoxLayout(owner)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(6)
        head = QLabel("Default owner")
        head.setObjectName("sectionTitle")
        lay.addWidget(head)
        lay.addWidget(caption(DEFAULT_OWNER_HELP))
        self.owner = UserPicker("The CRM's default (connected user)")
        self.owner.setObjectName("defaultOwnerPicker")
        self.owner.setAccessibleName("Default owner")
        self.owner.valueChanged.connect(self._on_owner)
        lay.addWidget(self.owner)
        self.owner_message = message_label()
        lay.addWidget(self.owner_message)
        self.body.addWidget(owner)
        self.body.addStretch(1)
        self.suggest_note = caption("", "sectionHelp")
        self.body.insertWidget(2, self.suggest_note)
        self.suggest_note.setVisible(False)

    def render_state(self) -> None:
        self.identities.render_state()
        self.users.render_state()
        self.owner.set_users(self.state.user_choices(), self.state.config.default_owner)
        self.suggest.setEnabled(self.state.snapshot is not None)

    def edited(self) -> None:
        super().edited()
        self.identities.render_summary()
        self.users.render_summary()

    def _on_owner(self, user_id: str) -> None:
        self.state.set_default_owner(user_id or None)
        self.edited()

    def show_problems(self, problems: Sequence[Problem]) -> None:
        self.identities.show_problems([p for p in problems if p.location.tab == "Identities"])
        self.users.show_problems([p for p in problems if p.location.tab == "Users"])
        show_messages(self.owner_message, [p for p in problems if p.location.tab == "Default owner"])

    def apply_suggestions(self) -> int:
        identities, users = self.state.user_suggestions()
        for pid, uid in identities.items():
            self.state.set_identity_user(pid, uid)
        for pid, uid in users.items():
            self.state.set_app_user(pid, uid)
        n = len(identities) + len(users)
        self.render_state()
        self.edited()
        self.suggest_note.setText(f"{n} filled in by matching email or name: check them before Update." if n else
                                  "No CRM user with the same email or name was found for the unmapped ones.")
        self.suggest_note.setVisible(True)
        return n
