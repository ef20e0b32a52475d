"""Step 2's choice of where people go in a CRM that offers several objects (Salesforce: Contacts or Leads), in the
configuration document: kept, left out when it is the default, refused with the reason when it is not one of the
CRM's objects."""

from __future__ import annotations

import pytest

from enginy_desktop.core.crm_config import CrmConfig, CrmConfigFileError


def test_the_choice_is_kept_in_the_document_and_left_out_by_default() -> None:
    config = CrmConfig(crm="salesforce")
    assert "people_object" not in config.to_dict()  # files stay readable by earlier versions
    config.people_object = "Leads"
    again = CrmConfig.from_json(config.to_json(), expected_crm="salesforce")
    assert again.people_object == "Leads"


@pytest.mark.parametrize(("crm", "value", "reason"), [
    ("salesforce", "Accounts", '"people_object" is "Accounts"; it must be "Contacts" or "Leads".'),
    ("hubspot", "Leads", "this CRM keeps people in one object only"),
])
def test_an_object_the_crm_does_not_offer_is_refused(crm: str, value: str, reason: str) -> None:
    document = {**CrmConfig(crm=crm).to_dict(), "people_object": value}
    with pytest.raises(CrmConfigFileError, match="nothing was changed") as caught:
        CrmConfig.from_dict(document, expected_crm=crm)
    assert any(reason in p for p in caught.value.problems)
