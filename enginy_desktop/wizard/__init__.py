"""The CRM configuration wizard: a QWizard whose pages render and edit ``core.crm_config.CrmConfig``."""
