"""The CRM configuration: the state the four-step wizard edits, its validation, and its JSON file format.

The wizard's pages render a :class:`CrmConfig` and apply the user's edits to it; nothing here knows about Qt
(STYLE: a wizard's flow is a Qt-free state object). **Update** saves it once :func:`validate` reports no error.

- :mod:`.model`: the vocabulary of the four steps (:class:`ObjectType`, :class:`Step`, :class:`MappingKind`,
  :class:`AssociationType`, :class:`CampaignProperty`…) and the :class:`CrmConfig` the wizard edits.
- :mod:`.file_format`: the versioned document of ``docs/crm-config.md``. :meth:`CrmConfig.to_json` writes it,
  :meth:`CrmConfig.from_json` reads it or raises :class:`CrmConfigFileError` listing every problem, and refuses a
  file from a newer version with :class:`NewerConfigVersionError`. Reading is pure: nothing changes unless the
  caller stores the returned object. A store keeps one configuration per CRM key as :meth:`CrmConfig.to_dict`.
- :mod:`.validation`: :func:`validate` returns every problem at once (:mod:`.problems`: each :class:`Problem`
  with where it is, step, tab, row, and a sentence the user can act on).
- :mod:`.field_types`: what validation reads of the CRM and of Enginy. The CRM's fields and users come from the
  adapter as plain objects; any object with the attributes of :class:`CrmFieldLike` / :class:`CrmUserLike` fits
  (the adapters' ``CrmField`` and ``CrmUser`` do).
"""

from __future__ import annotations

from .field_types import (
    CrmFieldLike,
    CrmUserLike,
    EnginyFieldLike,
    crm_type_of,  # read by the export too, so that it and validation agree
)
from .file_format import CONFIG_FORMAT, CONFIG_VERSION, CrmConfigFileError, NewerConfigVersionError
from .model import (
    AssociationType,
    CampaignProperty,
    CompanyIdentifier,
    ContactIdentifier,
    CrmConfig,
    EngagementSource,
    FieldMapping,
    MappingKind,
    ObjectType,
    Step,
)
from .problems import Location, Problem, Severity, errors
from .validation import (
    FAQ_NO_EXPORT_MAPPING,
    PRIMARY_REMOVE_WARNING,
    TROUBLESHOOTING_CROSS_OBJECT,
    association_note,
    validate,
)

__all__ = [
    "CONFIG_FORMAT",
    "CONFIG_VERSION",
    "FAQ_NO_EXPORT_MAPPING",
    "PRIMARY_REMOVE_WARNING",
    "TROUBLESHOOTING_CROSS_OBJECT",
    "AssociationType",
    "CampaignProperty",
    "CompanyIdentifier",
    "ContactIdentifier",
    "CrmConfig",
    "CrmConfigFileError",
    "CrmFieldLike",
    "CrmUserLike",
    "EngagementSource",
    "EnginyFieldLike",
    "FieldMapping",
    "Location",
    "MappingKind",
    "NewerConfigVersionError",
    "ObjectType",
    "Problem",
    "Severity",
    "Step",
    "association_note",
    "crm_type_of",
    "errors",
    "validate",
]
