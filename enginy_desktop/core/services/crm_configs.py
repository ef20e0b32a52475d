"""Saved CRM configurations (the wizard's four steps), one per CRM, and their JSON files.

The store keeps each configuration as the versioned document of ``docs/crm-config.md``. Saving replaces the
whole document in one transaction (the wizard's **Update**); an import is read and validated completely before
anything is written, so an invalid file changes nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from enginy_desktop.core import catalog
from enginy_desktop.core.crm_config import CrmConfig, CrmConfigFileError, Problem, errors, validate
from enginy_desktop.core.models import CrmConfigRecord
from enginy_desktop.core.store import Store

log = logging.getLogger(__name__)


class CrmConfigInvalidError(CrmConfigFileError):
    """The configuration reads fine but breaks the rules (e.g. a company field in the Contacts tab)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problem_list = problems
        super().__init__([str(p) for p in problems])


class CrmConfigService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def has_saved(self, crm: str) -> bool:
        with self.store.session() as s:
            return s.get(CrmConfigRecord, catalog.get(crm).key) is not None

    def load(self, crm: str) -> CrmConfig:
        """The saved configuration of ``crm``, or a new one with the product's defaults."""
        key = catalog.get(crm).key
        with self.store.session() as s:
            row = s.get(CrmConfigRecord, key)
            document = dict(row.document) if row is not None else None
        config = CrmConfig(crm=key) if document is None else CrmConfig.from_dict(document, expected_crm=key)
        if not config.people_object and catalog.get(key).people_objects:
            config.people_object = self._former_people_object(key)
        return config

    def _former_people_object(self, key: str) -> str:
        """Where people went before the wizard's Step 2 asked: the connection setting ``contact_object`` of
        earlier versions (kept in the integration's settings), until the configuration is saved with a choice."""
        from enginy_desktop.core.models import IntegrationState

        with self.store.session() as s:
            row = s.get(IntegrationState, key)
            former = str((row.settings or {}).get("contact_object") or "") if row is not None else ""
        choices = {v.casefold(): v for v, *_rest in catalog.get(key).people_objects}
        return choices.get(former.strip().casefold(), "")

    def save(self, config: CrmConfig, **validation: Any) -> CrmConfig:
        """Validate (``validation`` goes to :func:`crm_config.validate`) and replace the saved configuration.

        Raises :class:`CrmConfigInvalidError` listing every blocking problem; nothing is written then.
        """
        key = catalog.get(config.crm).key
        if validation.get("enginy_fields") is None:  # AI columns are Enginy fields too
            from enginy_desktop.core.fields import workspace_fields

            validation["enginy_fields"] = workspace_fields(self.store)
        blocking = errors(validate(config, crm_name=catalog.get(key).name, **validation))
        if blocking:
            raise CrmConfigInvalidError(blocking)
        document = config.to_dict()
        with self.store.write() as s:
            row = s.get(CrmConfigRecord, key)
            if row is None:
                s.add(CrmConfigRecord(crm=key, document=document))
            else:
                row.document = document
        log.info("Saved the %s configuration", key)
        return config

    def export_file(self, crm: str, path: Path) -> Path:
        """Write the saved configuration of ``crm`` to ``path`` (atomically: a complete file or none)."""
        text = self.load(crm).to_json()
        path = Path(path)
        fd, tmp = tempfile.mkstemp(
            prefix=".crm-config-", suffix=".json", dir=path.parent if path.parent.exists() else None
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def import_file(self, crm: str, path: Path, **validation: Any) -> CrmConfig:
        """Read, validate and save a configuration file for ``crm``; any problem refuses it whole."""
        key = catalog.get(crm).key
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CrmConfigFileError([f"The file {path} cannot be read ({exc.strerror or exc})."]) from None
        config = CrmConfig.from_json(data, expected_crm=key)
        return self.save(config, **validation)
