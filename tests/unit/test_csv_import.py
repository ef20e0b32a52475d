"""CSV import: encodings, delimiters, header mapping, bad-row rules, dedupe, companies, reports, cancellation."""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from enginy_desktop.core.fields import RecordKind
from enginy_desktop.core.importers.csv_import import (
    ImportFileError,
    MappingError,
    import_csv,
    preview,
)
from enginy_desktop.core.importers.headers import suggest_field
from enginy_desktop.core.importers.mapping import ColumnMapping, load_mapping_specs
from enginy_desktop.core.importers.report import new_report_path, safe_cell, write_report
from enginy_desktop.core.importers.sniff import detect_encoding, sniff_delimiter
from enginy_desktop.core.store import Store


@pytest.fixture
def store(data_dir: Path):  # type: ignore[no-untyped-def]
    s = Store.open(data_dir)
    yield s
    s.close()


def write(tmp_path: Path, content: str, name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    return path


def rows(store: Store, sql: str, **params: object) -> list[tuple]:
    with store.session() as s:
        return [tuple(r) for r in s.execute(text(sql), params)]


def check_counts(result) -> None:  # type: ignore[no-untyped-def]
    assert result.rows_read == result.imported + result.updated + result.rejected


# -- encodings and delimiters ----------------------------------------------------------------------------------
NAMES = "First Name,Last Name,Email\nJosé,Núñez,jose@acme.es\nZoë,Müller,zoe@acme.de\n"


@pytest.mark.parametrize(
    ("encoding", "bom", "label"),
    [
        ("utf-8", b"", "UTF-8"),
        ("utf-8", codecs.BOM_UTF8, "UTF-8 with BOM"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16 LE"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16 BE"),
        ("cp1252", b"", "Windows-1252"),
    ],
)
def test_encodings_are_detected_and_decoded(
    store: Store, tmp_path: Path, encoding: str, bom: bytes, label: str
) -> None:
    path = tmp_path / "names.csv"
    path.write_bytes(bom + NAMES.encode(encoding))
    pv = preview(path)
    assert pv.format.encoding_label == label
    assert pv.headers == ("First Name", "Last Name", "Email")
    result = import_csv(store, path, list_name="People")
    assert (result.imported, result.rejected, result.warnings) == (2, 0, 0)
    assert rows(store, "SELECT full_name FROM contacts ORDER BY id") == [("José Núñez",), ("Zoë Müller",)]


def test_latin1_fallback_when_bytes_are_undefined_in_windows_1252(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("Name,Email\nAndré\x81,a@b.com\n".encode("latin-1"))
    assert detect_encoding(path.read_bytes())[1].startswith("Latin-1")
    result = import_csv(store, path, list_name="L")
    assert result.imported == 1


def test_a_line_in_another_encoding_after_the_sample_is_read_in_its_own(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # UTF-8 in the sample the encoding is guessed from; a Windows-1252 line after it.
    monkeypatch.setattr("enginy_desktop.core.importers.sniff.SAMPLE_BYTES", 40)
    head = "Name,Email\n" + "".join(f"P{i},p{i}@x.com\n" for i in range(3))
    path = tmp_path / "mixed.csv"
    path.write_bytes(head.encode() + b"Ren\xe9,rene@x.com\n")
    result = import_csv(store, path, list_name="L")
    check_counts(result)
    assert result.imported == 4
    warnings = [i for i in result.issues if i.status == "warning"]
    assert [w.line for w in warnings] == [5]
    assert "written in Windows-1252" in warnings[0].reason
    assert rows(store, "SELECT full_name FROM contacts WHERE email = 'rene@x.com'") == [("René",)]


def test_undecodable_utf16_is_replaced_and_warned(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "Name,Email\nAna,a@x.com\n".encode("utf-16-le")
                     + b"\x00\xd8" + ",b@x.com\n".encode("utf-16-le"))
    result = import_csv(store, path, list_name="L")
    check_counts(result)
    warnings = [i for i in result.issues if i.status == "warning"]
    assert [w.line for w in warnings] == [3]
    assert "could not be decoded" in warnings[0].reason


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(store: Store, tmp_path: Path, delimiter: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(["Nombre", "Apellidos", "Correo electrónico", "Empresa"])
    w.writerow(["Ana", "García, López", "ana@acme.es", "Acme; S.L."])
    w.writerow(["Luis", "Pérez", "luis@acme.es", "Acme | Iberia"])
    path = write(tmp_path, buf.getvalue())
    assert sniff_delimiter(buf.getvalue()) == delimiter
    result = import_csv(store, path, list_name="ES")
    assert (result.imported, result.rejected) == (2, 0)
    assert rows(store, "SELECT last_name, company_name FROM contacts ORDER BY id") == [
        ("García, López", "Acme; S.L."),
        ("Pérez", "Acme | Iberia"),
    ]


# -- header mapping ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "field"),
    [
        # LinkedIn Sales Navigator (and its export tools)
        ("First Name", "first_name"), ("Last Name", "last_name"), ("Title", "job_title"),
        ("Company", "company_name"), ("Profile URL", "linkedin_url"), ("linkedInProfileUrl", "linkedin_url"),
        ("Location", "location"), ("Company LinkedIn URL", "company_linkedin_url"),
        # Apollo
        ("Email", "email"), ("Person Linkedin Url", "linkedin_url"), ("Company Name for Emails", "company_name"),
        ("Seniority", "seniority"), ("Departments", "department"), ("Work Direct Phone", "phone"),
        ("Mobile Phone", "mobile"), ("Website", "website"), ("Company Linkedin Url", "company_linkedin_url"),
        ("City", "city"), ("Country", "country"),
        # HubSpot
        ("Email Address", "email"), ("Phone Number", "phone"), ("Job Title", "job_title"),
        ("Company Name", "company_name"), ("Website URL", "website"), ("Country/Region", "country"),
        ("Lead Source", "source"), ("Mobile Phone Number", "mobile"),
        # Salesforce
        ("Account Name", "company_name"), ("Mailing City", "city"), ("Mailing Country", "country"),
        ("Department", "department"), ("Description", "notes"), ("Mobile", "mobile"),
        # Spanish
        ("Nombre", "first_name"), ("Apellidos", "last_name"), ("Correo electrónico", "email"),
        ("Correo", "email"), ("Cargo", "job_title"), ("Puesto", "job_title"), ("Empresa", "company_name"),
        ("Nombre de la empresa", "company_name"), ("Sitio web", "website"), ("URL del perfil", "linkedin_url"),
        ("Teléfono", "phone"), ("Móvil", "mobile"), ("Ciudad", "city"), ("País", "country"),
        ("País/región", "country"), ("Ubicación", "location"), ("Departamento", "department"),
        ("Notas", "notes"), ("Origen del candidato", "source"),
        # spelling variants
        ("E-mail", "email"), ("  email  ", "email"), ("CORREO ELECTRONICO", "email"), ("first_name", "first_name"),
    ],
)
def test_contact_headers_map_to_fields(header: str, field: str) -> None:
    assert suggest_field(RecordKind.CONTACT, header) == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Company Name", "name"), ("Account Name", "name"), ("Nombre", "name"), ("Empresa", "name"),
        ("Website", "website"), ("Sitio web", "website"), ("Domain", "domain"), ("Dominio", "domain"),
        ("Company Domain Name", "domain"), ("Industry", "industry"), ("Sector", "industry"),
        ("# Employees", "employee_count"), ("Number of Employees", "employee_count"),
        ("Número de empleados", "employee_count"), ("Company Size", "size"), ("Tamaño de la empresa", "size"),
        ("LinkedIn URL", "linkedin_url"), ("Company Linkedin Url", "linkedin_url"), ("Billing Country", "country"),
        ("Company City", "city"), ("Company Phone", "phone"), ("SEO Description", "description"),
    ],
)
def test_company_headers_map_to_fields(header: str, field: str) -> None:
    assert suggest_field(RecordKind.COMPANY, header) == field


def test_unknown_headers_become_custom_fields_and_first_column_wins_a_field() -> None:
    mapping = ColumnMapping.suggest("contact", ["Company", "Company Name for Emails", "Lead Score", "Email"])
    assert [r.spec for r in mapping.rules] == [
        "company_name", "custom:Company Name for Emails", "custom:Lead Score", "email",
    ]


def test_mapping_round_trips_through_json(tmp_path: Path) -> None:
    headers = ["First Name", "Internal ID", "Score", "Mail"]
    mapping = ColumnMapping.from_specs(
        "contact", headers, {"internal id": "ignore", "Score": "custom:Lead score", "Mail": "email"}
    )
    assert [r.spec for r in mapping.rules] == ["first_name", "ignore", "custom:Lead score", "email"]
    path = tmp_path / "m.json"
    mapping.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "enginy-csv-mapping"
    assert data["object"] == "contacts"
    again = ColumnMapping.from_specs("contact", headers, load_mapping_specs(path, "contact"))
    assert again == mapping


def test_mapping_file_with_unknown_field_names_it(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"version": 1, "object": "contacts", "columns": {"Mail": "e_mail"}}))
    with pytest.raises(MappingError, match="Unknown contact field 'e_mail' for column 'Mail'"):
        load_mapping_specs(path, "contact")
    path.write_text(json.dumps({"version": 1, "object": "companies", "columns": {}}))
    with pytest.raises(MappingError, match="for companies, not contacts"):
        load_mapping_specs(path, "contact")
    path.write_text("{not json")
    with pytest.raises(MappingError, match="not valid JSON"):
        load_mapping_specs(path, "contact")


def test_a_column_mapped_to_ignore_is_not_imported(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "Email,Secret,Score\na@x.com,s3cr3t,5\n")
    result = import_csv(store, path, list_name="L", mapping={"Secret": "ignore"})
    assert result.imported == 1
    assert rows(store, "SELECT custom_fields FROM contacts") == [('{"Score":"5"}',)]


# -- bad rows --------------------------------------------------------------------------------------------------
def test_bad_row_rules(store: Store, tmp_path: Path) -> None:
    content = (
        "First Name,Last Name,Email,Person Linkedin Url,Website\n"  # line 1
        "Ana,García,ana@acme.es,linkedin.com/in/ana,acme.es\n"  # 2 ok
        "Luis,,not-an-email,,\n"  # 3 imported without email (warning)
        ",,,,\n"  # 4 a line of separators: blank, not a row
        ",,bad@,,\n"  # 5 rejected: no name/email/linkedin (email invalid)
        "Pedro,Ruiz,pedro@x.com\n"  # 6 rejected: 3 values for 5 columns
        "Eva,Sanz,eva@x.com,https://example.com/in/eva,not a url\n"  # 7 two malformed URLs dropped
        "Tom,Lee,tom@x.com,,,,\n"  # 8 extra empty values: tolerated
        '"Multi\nline",Name,multi@x.com,,\n'  # 9-10 a quoted newline is fine
        "\n"  # 11 blank
    )
    path = write(tmp_path, content)
    result = import_csv(store, path, list_name="L")
    check_counts(result)
    assert (result.rows_read, result.imported, result.rejected, result.blank_lines) == (7, 5, 2, 2)
    by_line = {(i.line, i.status): i for i in result.issues}
    assert by_line[(3, "warning")].column == "Email"
    assert "not a valid email" in by_line[(3, "warning")].reason
    assert "no name, no email and no LinkedIn URL" in by_line[(5, "rejected")].reason
    assert "has 3 values but the header has 5 columns" in by_line[(6, "rejected")].reason
    assert {i.column for i in result.issues if i.line == 7} == {"Person Linkedin Url", "Website"}
    assert rows(store, "SELECT email, linkedin_url, website FROM contacts WHERE first_name = 'Eva'") == [
        ("eva@x.com", None, None)
    ]
    assert rows(store, "SELECT email FROM contacts WHERE first_name = 'Luis'") == [(None,)]


def test_unclosed_quote_is_reported_with_its_line_range(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, 'Name,Email\nAna,ana@x.com\n"Broken,b@x.com\nLuis,luis@x.com\n')
    result = import_csv(store, path, list_name="L")
    check_counts(result)
    assert result.imported == 1
    [issue] = result.issues
    assert issue.line == 3
    assert "lines 3–4" in issue.reason


def test_a_file_without_line_breaks_is_read_in_pieces(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("enginy_desktop.core.importers.rows.MAX_LINE", 64)
    path = write(tmp_path, "Name,Email\n" + "x" * 1000 + "\nAna,ana@x.com\n")
    result = import_csv(store, path, list_name="L")
    check_counts(result)
    assert result.imported >= 1
    assert rows(store, "SELECT count(*) FROM contacts WHERE email = 'ana@x.com'") == [(1,)]


def test_missing_empty_and_headerless_files_are_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="does not exist"):
        import_csv(store, tmp_path / "nope.csv", list_name="L")
    with pytest.raises(ImportFileError, match="is empty"):
        import_csv(store, write(tmp_path, ""), list_name="L")
    with pytest.raises(ImportFileError, match="no header"):
        import_csv(store, write(tmp_path, "\n\n ,\n"), list_name="L")
    assert rows(store, "SELECT count(*) FROM lists") == [(0,)]


def test_a_companies_list_cannot_receive_contacts(store: Store, tmp_path: Path) -> None:
    import_csv(store, write(tmp_path, "Company Name,Domain\nAcme,acme.com\n"), kind="company", list_name="Acc")
    with pytest.raises(ImportFileError, match="holds companies"):
        import_csv(store, write(tmp_path, "Email\na@x.com\n"), list_name="acc")


# -- dedupe, updates, companies -----------------------------------------------------------------------------------
def test_dedupe_inside_the_list_by_email_then_linkedin(store: Store, tmp_path: Path) -> None:
    first = write(tmp_path, "Name,Email,LinkedIn,Title,Score\n"
                  "Ana García,ANA@acme.es,,CEO,1\n"
                  "Luis,,https://es.linkedin.com/in/Luis-P/?trk=x,,2\n", "a.csv")
    second = write(tmp_path, "Name,Email,LinkedIn,Title,Tier\n"
                   "Ana,ana@acme.es,,,gold\n"
                   "Luis Pérez,luis@x.com,linkedin.com/in/luis-p,CTO,\n"
                   "Ana again,ana@acme.es,,Founder,\n", "b.csv")
    r1 = import_csv(store, first, list_name="L")
    assert (r1.imported, r1.updated) == (2, 0)
    r2 = import_csv(store, second, list_name="L")
    check_counts(r2)
    assert (r2.imported, r2.updated, r2.rejected) == (0, 3, 0)
    got = rows(store, "SELECT full_name, email, job_title, custom_fields FROM contacts ORDER BY id")
    assert got[0][:3] == ("Ana again", "ana@acme.es", "Founder")  # non-empty values win, in file order
    assert json.loads(got[0][3]) == {"Score": "1", "Tier": "gold"}
    assert got[1][:3] == ("Luis Pérez", "luis@x.com", "CTO")
    # Another list is another set of records.
    r3 = import_csv(store, first, list_name="Other")
    assert (r3.imported, r3.updated) == (2, 0)


def test_duplicates_inside_one_file_are_updates(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "Email,Title\na@x.com,CEO\nb@x.com,\nA@X.com,Founder\n")
    result = import_csv(store, path, list_name="L")
    assert (result.imported, result.updated) == (2, 1)
    assert rows(store, "SELECT email, job_title FROM contacts ORDER BY id") == [
        ("a@x.com", "Founder"), ("b@x.com", None),
    ]


def test_contacts_are_linked_to_companies_by_domain_then_name(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "Name,Company,Website\n"
                 "A,Acme,https://www.acme.com/about\n"
                 "B,ACME inc,acme.com\n"
                 "C,  acme ,\n"
                 "D,Globex,\n"
                 "E,,\n")
    result = import_csv(store, path, list_name="L")
    assert result.companies_created == 2
    companies = dict(rows(store, "SELECT name, id FROM companies"))
    links = rows(store, "SELECT full_name, company_id, company_domain FROM contacts ORDER BY id")
    assert links == [
        ("A", companies["Acme"], "acme.com"),
        ("B", companies["Acme"], "acme.com"),
        ("C", companies["Acme"], None),
        ("D", companies["Globex"], None),
        ("E", None, None),
    ]
    # A later import finds them again instead of creating new ones.
    again = import_csv(store, write(tmp_path, "Name,Company\nF,Globex\n", "b.csv"), list_name="L2")
    assert again.companies_created == 0


def test_companies_import_dedupes_and_reuses_known_companies(store: Store, tmp_path: Path) -> None:
    import_csv(store, write(tmp_path, "Name,Company,Website\nA,Acme,acme.com\n", "c.csv"), list_name="People")
    path = write(tmp_path, "Company Name,Website,Industry,# Employees\n"
                 "Acme Corp,https://acme.com,Software,\"1,200\"\n"
                 "Globex,globex.io,Energy,lots\n"
                 "Globex Inc,www.globex.io,,50\n")
    result = import_csv(store, path, kind="company", list_name="Accounts")
    check_counts(result)
    assert (result.imported, result.updated, result.warnings) == (2, 1, 1)
    got = rows(store, "SELECT name, domain, industry, employee_count FROM companies ORDER BY id")
    assert got == [("Acme Corp", "acme.com", "Software", 1200), ("Globex Inc", "globex.io", "Energy", 50)]


def test_owner_is_the_current_user(store: Store, tmp_path: Path) -> None:
    with store.write() as s:
        s.execute(text("INSERT INTO app_users (name, email, is_current, created_at) VALUES ('Ana', 'a@e.ai', 1, 'x')"))
    import_csv(store, write(tmp_path, "Email,Company\nz@x.com,Z\n"), list_name="L")
    assert rows(store, "SELECT owner_id FROM contacts") == [(1,)]
    assert rows(store, "SELECT owner_id FROM companies") == [(1,)]


# -- reports, progress, cancellation ---------------------------------------------------------------------------------
def test_a_new_report_never_takes_the_path_of_another(tmp_path: Path) -> None:
    first = new_report_path(tmp_path, "import-contacts", "Q3 leads / Spain")
    assert first.parent == tmp_path
    assert first.name.startswith("import-contacts-Q3-leads-Spain-")
    first.write_text("")
    second = new_report_path(tmp_path, "import-contacts", "Q3 leads / Spain")
    assert not second.exists()
    assert new_report_path(tmp_path, "campaign-events", "¿?", "events").name.startswith("campaign-events-events-")


def test_report_csv_is_safe_against_formula_injection(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, 'Name,Email\nA,"=HYPERLINK(""http://evil"")"\n,\n@x,-1\n')
    report = tmp_path / "reports" / "r.csv"
    result = import_csv(store, path, list_name="L", report_path=report)
    check_counts(result)
    with open(report, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["line", "status", "column", "value", "reason"]
    values = [line[3] for line in lines[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in values
    assert all(not v.startswith(("=", "+", "-", "@")) for line in lines[1:] for v in line)
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("plain") == "plain"
    write_report([], tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8-sig").strip() == "line,status,column,value,reason"


def _big(tmp_path: Path, n: int) -> Path:
    return write(tmp_path, "Email,Name\n" + "".join(f"p{i}@x.com,P {i}\n" for i in range(n)), "big.csv")


def test_cancel_rolls_back_everything_including_the_new_list(store: Store, tmp_path: Path) -> None:
    path = _big(tmp_path, 500)
    seen = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        seen.append(p)

    calls = iter([False, False, True])
    result = import_csv(store, path, list_name="L", chunk_rows=100, progress=progress, cancel=lambda: next(calls))
    assert result.cancelled
    assert not result.kept_partial
    assert not result.committed
    assert result.list_id is None
    assert rows(store, "SELECT count(*) FROM contacts") == [(0,)]
    assert rows(store, "SELECT count(*) FROM lists") == [(0,)]
    assert [p.rows_done for p in seen] == [100, 200]
    assert 0 < seen[0].bytes_done <= seen[-1].bytes_done <= seen[-1].bytes_total == path.stat().st_size


def test_cancel_with_keep_partial_keeps_whole_chunks(store: Store, tmp_path: Path) -> None:
    path = _big(tmp_path, 500)
    event = threading.Event()
    result = import_csv(
        store, path, list_name="L", chunk_rows=100, keep_partial=True, cancel=event,
        progress=lambda p: event.set() if p.rows_done >= 200 else None,
    )
    assert result.cancelled
    assert result.kept_partial
    assert result.committed
    assert result.imported == 200
    assert rows(store, "SELECT count(*) FROM list_memberships") == [(200,)]
    finished = import_csv(store, path, list_name="L")
    assert (finished.imported, finished.updated) == (300, 200)


def test_parallel_parsing_gives_the_same_result(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "Name,Email,Website\n" + "".join(
        f"P{i},{'bad' if i % 7 == 0 else f'p{i}@x.com'},c{i % 5}.com\n" for i in range(1200)
    ) + "x,y\n")
    a = import_csv(store, path, list_name="A", parallel=False, chunk_rows=500)
    b = import_csv(store, path, list_name="B", parallel=True, chunk_rows=500)
    assert (a.rows_read, a.imported, a.rejected, a.warnings) == (b.rows_read, b.imported, b.rejected, b.warnings)
    assert a.issues == b.issues
    assert rows(store, "SELECT count(*) FROM list_memberships GROUP BY list_id") == [(1200,), (1200,)]


# -- properties: nothing crashes, nothing is dropped silently ---------------------------------------------------
@pytest.fixture(scope="module")
def shared_store():  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as d:
        s = Store.open(Path(d))
        yield s, Path(d)
        s.close()


_counter = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(shared_store, data: bytes) -> None:  # type: ignore[no-untyped-def]
    store, folder = shared_store
    path = folder / "fuzz.bin"
    path.write_bytes(data)
    try:
        result = import_csv(store, path, list_name=f"fuzz-{next(_counter)}")
    except ImportFileError:
        return
    check_counts(result)
    assert result.rejected == sum(1 for i in result.issues if i.status == "rejected")


_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", " ", "ana@x.com", "bad@", "=1+1", '"', "a,b;c|d\te", "línea\nnueva", "https://linkedin.com/in/x", "\r"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(["Name", "Email", "Company", "Website", "LinkedIn", "Notes", "X"]), min_size=1,
                    max_size=5, unique=True),
    body=st.lists(st.lists(_cell, min_size=0, max_size=6), max_size=25),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_odd_csvs_import_or_report_every_row(shared_store, header, body, delimiter, encoding) -> None:  # type: ignore[no-untyped-def]
    store, folder = shared_store
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    path = folder / "odd.csv"
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))
    try:
        result = import_csv(store, path, list_name=f"odd-{next(_counter)}")
    except ImportFileError:
        return
    check_counts(result)
    rejected_lines = [i.line for i in result.issues if i.status == "rejected"]
    assert len(rejected_lines) == len(set(rejected_lines)) == result.rejected
    with store.session() as s:
        members = s.execute(text("SELECT count(*) FROM list_memberships WHERE list_id = :l"),
                            {"l": result.list_id}).scalar()
    assert members == result.imported


_SLUG = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_%"


@given(slug=st.text(alphabet=_SLUG, min_size=1, max_size=30))
def test_linkedin_urls_have_one_canonical_form(slug: str) -> None:
    from enginy_desktop.core.fields import clean_linkedin_url

    canonical = clean_linkedin_url(f"https://www.linkedin.com/in/{slug}")
    assert canonical == f"https://www.linkedin.com/in/{slug.lower()}"
    variants = (f"https://es.linkedin.com/in/{slug}/?trk=x", f"linkedin.com/in/{slug}/", f"http://m.linkedin.com/in/{slug}")
    for variant in variants:
        assert clean_linkedin_url(variant) == canonical
