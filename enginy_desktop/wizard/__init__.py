"""The CRM configuration wizard (Configure on a CRM card): four steps that edit a ``core.crm_config.CrmConfig``."""

from .wizard import CrmWizard

__all__ = ["CrmWizard"]
