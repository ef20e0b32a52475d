"""The workspace service the list pages use: lists, paging/sorting/filtering, cell edits, deletes, identities, users."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from enginy_desktop.core.campaigns import CampaignService
from enginy_desktop.core.fields import COMPANY_FIELDS, CONTACT_FIELDS, FieldType, RecordKind, fields_for, get_field
from enginy_desktop.core.services.workspace import (
    ListNotFoundError,
    RecordValidationError,
    WorkspaceError,
    WorkspaceService,
)
from enginy_desktop.core.store import Store


@pytest.fixture
def service(data_dir: Path):  # type: ignore[no-untyped-def]
    store = Store.open(data_dir)
    yield WorkspaceService(store)
    store.close()


def load(service: WorkspaceService, tmp_path: Path, content: str, list_name: str = "People", kind: str = "contact"):
    path = tmp_path / f"{list_name}.csv"
    path.write_text(content, encoding="utf-8")
    result = service.import_csv(path, kind, list_name)
    return service.get_list(list_name), result


PEOPLE = (
    "First Name,Last Name,Email,Company,Score\n"
    "Carla,Zubiri,carla@z.com,Zeta,3\n"
    "ana,Álvarez,ana@a.com,Acme,1\n"
    "Bruno,,bruno@b.com,,2\n"
    "Dana,Moss,,Acme,\n"
)


def test_field_registry() -> None:
    assert [f.name for f in fields_for("contact")][:4] == ["first_name", "last_name", "full_name", "email"]
    assert get_field(RecordKind.CONTACT, "email").type is FieldType.EMAIL
    assert {f.object for f in CONTACT_FIELDS} == {RecordKind.CONTACT}
    assert {f.object for f in COMPANY_FIELDS} == {RecordKind.COMPANY}
    assert get_field("company", "employee_count").as_json() == {
        "name": "employee_count", "label": "Employees", "type": "integer", "object": "company",
    }
    with pytest.raises(KeyError, match="not a contact field"):
        get_field("contact", "industry")


def test_lists_with_counts_create_rename_delete(service: WorkspaceService, tmp_path: Path) -> None:
    people, _ = load(service, tmp_path, PEOPLE)
    empty = service.create_list("Accounts", "company")
    assert [(i.name, i.kind, i.count) for i in service.lists()] == [
        ("Accounts", RecordKind.COMPANY, 0), ("People", RecordKind.CONTACT, 4),
    ]
    assert [i.name for i in service.lists("contact")] == ["People"]
    with pytest.raises(WorkspaceError, match="already exists"):
        service.create_list("people", "contact")
    assert service.rename_list(empty.id, "Key accounts").name == "Key accounts"
    with pytest.raises(ListNotFoundError, match=r"no list named 'Nope'\. Lists: Key accounts, People"):
        service.get_list("Nope")
    service.delete_list(people.id)
    assert [i.name for i in service.lists()] == ["Key accounts"]
    with service.store.session() as s:  # the records stay (they may be in other lists)
        assert s.execute(text("SELECT count(*) FROM contacts")).scalar() == 4


def test_a_file_suggests_a_list_name_no_list_has(service: WorkspaceService) -> None:
    assert service.free_list_name("q3_leads") == "q3 leads"
    service.create_list("Q3 Leads", "contact")  # names are compared without case
    service.create_list("q3 leads (2)", "company")
    assert service.free_list_name("q3_leads") == "q3 leads (3)"
    assert service.free_list_name("__") == "Imported"


def test_paging_in_list_order(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    assert service.count(info.id) == 4
    page = service.page(info.id, 1, 2, columns=["first_name", "email"])
    assert [r[1:] for r in page] == [("ana", "ana@a.com"), ("Bruno", "bruno@b.com")]
    assert service.page(info.id, 10, 5) == []
    assert service.page(info.id, 0, 0) == []
    assert len(service.page(info.id, 0, 100)[0]) == 1 + len(service.default_columns("contact"))


def test_sorting_ignores_case_puts_empty_last_and_is_stable(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    names = lambda rows: [r[1] for r in rows]  # noqa: E731
    asc = service.page(info.id, 0, 10, sort_column="first_name", columns=["first_name"])
    assert names(asc) == ["ana", "Bruno", "Carla", "Dana"]
    desc = service.page(info.id, 0, 10, sort_column="first_name", descending=True, columns=["first_name"])
    assert names(desc) == ["Dana", "Carla", "Bruno", "ana"]
    by_last = service.page(info.id, 0, 10, sort_column="last_name", columns=["first_name"])
    assert names(by_last) == ["ana", "Dana", "Carla", "Bruno"]  # Bruno has no last name: last
    by_company = service.page(info.id, 0, 10, sort_column="company_name", columns=["first_name"])
    assert names(by_company) == ["ana", "Dana", "Carla", "Bruno"]  # Acme (list order), Zeta, empty
    by_score = service.page(info.id, 1, 2, sort_column="custom:Score", columns=["first_name", "custom:Score"])
    assert [r[1:] for r in by_score] == [("Bruno", "2"), ("Carla", "3")]
    with pytest.raises(WorkspaceError, match="not a contact field"):
        service.page(info.id, 0, 10, sort_column="industry")


def test_filtering(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    assert service.prepare(info.id, "first_name", False, "acme") == 2
    assert service.prepare(info.id) == 4
    assert service.count(info.id, "acme") == 2
    assert service.count(info.id, "  ACME ") == 2
    assert service.count(info.id, "%") == 0  # LIKE wildcards are literal
    rows = service.page(info.id, 0, 10, filter_text="acme", sort_column="first_name", descending=True,
                        columns=["first_name"])
    assert [r[1] for r in rows] == ["Dana", "ana"]
    assert service.row_of(info.id, rows[1][0], "first_name", True, "acme") == 1
    assert service.row_of(info.id, rows[1][0]) == 1


def test_edit_cell_validates_and_is_seen_by_sorted_views(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    first = service.page(info.id, 0, 1, sort_column="email", columns=["email"])[0]
    assert first[1] == "ana@a.com"
    with pytest.raises(RecordValidationError) as err:
        service.edit_cell("contact", first[0], "email", "not an email")
    assert str(err.value) == "Email: 'not an email' is not a valid email address. The value was not changed."
    assert service.record("contact", first[0])["email"] == "ana@a.com"
    assert service.edit_cell("contact", first[0], "email", "  ZZ@Z.com ") == "zz@z.com"
    assert service.page(info.id, 0, 1, sort_column="email", columns=["email"])[0][1] == "bruno@b.com"
    assert service.edit_cell("contact", first[0], "first_name", "Ana") == "Ana"
    assert service.record("contact", first[0])["full_name"] == "Ana Álvarez"
    assert service.edit_cell("contact", first[0], "custom:Score", "10") == "10"
    assert service.record("contact", first[0])["custom_fields"] == {"Score": "10"}
    assert service.edit_cell("contact", first[0], "custom:Score", "") is None
    assert service.record("contact", first[0])["custom_fields"] == {}
    with pytest.raises(RecordValidationError, match="LinkedIn"):
        service.edit_cell("contact", first[0], "linkedin_url", "https://example.com/x")
    with pytest.raises(WorkspaceError, match="no longer exists"):
        service.edit_cell("contact", 9999, "email", "a@b.com")


def test_edit_company_cells(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, "Company Name,Domain,# Employees\nAcme,acme.com,10\n", "Accounts", "company")
    [(cid, *_)] = service.page(info.id, 0, 10)
    with pytest.raises(RecordValidationError, match="Employees: 'many' is not a whole number"):
        service.edit_cell("company", cid, "employee_count", "many")
    assert service.edit_cell("company", cid, "employee_count", "1,500") == 1500
    assert service.edit_cell("company", cid, "domain", "https://www.Globex.io/x") == "globex.io"
    service.edit_cell("company", cid, "name", "  Globex   Corp ")
    assert service.record("company", cid)["name_key"] == "globex corp"


def test_delete_and_remove_records(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    other, _ = load(service, tmp_path, "Email\ncarla@z.com\n", "Other")
    companies, _ = load(service, tmp_path, "Company Name\nSame id\n", "Accounts", "company")
    ids = [r[0] for r in service.page(info.id, 0, 10)]
    assert service.remove_from_list(info.id, ids[:1]) == 1
    assert service.count(info.id) == 3
    assert service.delete_records("contact", ids[1:3]) == 2
    assert service.count(info.id) == 1
    assert service.count(other.id) == 1
    assert service.count(companies.id) == 1  # a company with the same id as a deleted contact is untouched
    service.delete_list(other.id, delete_records=True)
    with service.store.session() as s:
        assert s.execute(text("SELECT count(*) FROM contacts")).scalar() == 2


def test_columns_include_custom_fields(service: WorkspaceService, tmp_path: Path) -> None:
    info, _ = load(service, tmp_path, PEOPLE)
    cols = service.columns(info.id)
    assert cols[0].name == "first_name"
    assert cols[-1].name == "custom:Score"
    assert cols[-1].is_custom
    records = service.records(info.id, 0, 2)
    assert records[0]["custom_fields"] == {"Score": "3"}
    assert records[1]["first_name"] == "ana"


def test_a_larger_list_pages_consistently(service: WorkspaceService, tmp_path: Path) -> None:
    n = 3000
    content = "Email,Last Name\n" + "".join(f"p{i}@x.com,L{(i * 7919) % n:05d}\n" for i in range(n))
    info, result = load(service, tmp_path, content)
    assert result.imported == n
    assert service.count(info.id) == n
    seen = []
    for offset in range(0, n, 700):
        seen += [r[1] for r in service.page(info.id, offset, 700, sort_column="last_name", columns=["last_name"])]
    assert seen == sorted(seen)
    assert len(seen) == n
    deep = service.page(info.id, n - 5, 10, columns=["email"])
    assert [r[1] for r in deep] == [f"p{i}@x.com" for i in range(n - 5, n)]


def test_identities(service: WorkspaceService, tmp_path: Path) -> None:
    li = service.create_identity("linkedin", "Ana", "es.linkedin.com/in/Ana-G/")
    assert li.address == "https://www.linkedin.com/in/ana-g"
    mail = service.create_identity("email", "", "Ana@Enginy.ai")
    assert (mail.name, mail.address) == ("ana@enginy.ai", "ana@enginy.ai")
    with pytest.raises(WorkspaceError, match="already exists"):
        service.create_identity("email", "Again", "ana@enginy.ai")
    with pytest.raises(WorkspaceError, match="not a valid email"):
        service.create_identity("email", "X", "nope")
    with pytest.raises(WorkspaceError, match="LinkedIn profile"):
        service.create_identity("fax", "X", "123")
    assert service.update_identity(mail.id, name="Ana (mail)").name == "Ana (mail)"
    CampaignService(service.store).create("Run", mail.id, ["email"])
    with pytest.raises(WorkspaceError, match="runs the campaign"):
        service.delete_identity(mail.id)
    service.delete_identity(li.id)
    assert [i.id for i in service.identities()] == [mail.id]


def test_users_and_the_current_user(service: WorkspaceService, tmp_path: Path) -> None:
    ana = service.create_user("Ana", "ana@enginy.ai", make_current=True)
    bo = service.create_user("Bo", "BO@enginy.ai")
    assert bo.email == "bo@enginy.ai"
    assert service.current_user() == ana
    with pytest.raises(WorkspaceError, match="already exists"):
        service.create_user("Ana 2", "ana@enginy.ai")
    with pytest.raises(WorkspaceError, match="not a valid email"):
        service.create_user("X", "x")
    assert service.set_current_user(bo.id).id == bo.id  # type: ignore[union-attr]
    assert [u.is_current for u in service.users()] == [False, True]
    info, _ = load(service, tmp_path, PEOPLE)
    owners = {service.record("contact", r[0])["owner_id"] for r in service.page(info.id, 0, 10)}
    assert owners == {bo.id}
    service.delete_user(bo.id)
    assert service.current_user() is None
    owners = {service.record("contact", r[0])["owner_id"] for r in service.page(info.id, 0, 10)}
    assert owners == {None}
    assert service.set_current_user(None) is None
    assert service.update_user(ana.id, name="Ana G").name == "Ana G"
