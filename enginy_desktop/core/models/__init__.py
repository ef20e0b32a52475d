"""Every table of the store. Import a model module here so Alembic and the tests see its tables."""

from .ai import *  # noqa: F403  (re-exports the AI-column and import tables listed in its __all__)
from .base import Base, utcnow
from .crm import *  # noqa: F403  (re-exports the CRM tables listed in its __all__)
from .enrichment import *  # noqa: F403  (re-exports the enrichment tables listed in its __all__)
from .export import *  # noqa: F403  (re-exports the export journal's tables listed in its __all__)
from .integrations import IntegrationState
from .meta import *  # noqa: F403  (re-exports StoreMeta)
from .runs import *  # noqa: F403  (re-exports the run tables listed in its __all__)
from .workspace import *  # noqa: F403  (re-exports the workspace tables listed in its __all__)

__all__ = ["Base", "IntegrationState", "utcnow"]
