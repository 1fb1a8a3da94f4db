"""Sales reps from each source: the setting, staging.sales_reps, a transaction's and a customer's
rep, salesrep.fil."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.mappings import load_layout
from qbpa_assets.lib.master_data import sales_reps
from qbpa_assets.lib.master_data.rep_source import RepSource, parse_rep_source
from qbpa_assets.lib.warehouse import raw
from qbpa_assets.lib.warehouse.filwriter import write_fil
from qbpa_assets.lib.warehouse.flatten import shape
from qbpa_assets_tests.lib.master_data.test_vendors import META, land

EMPLOYEES = [
    {
        "Id": "50",
        "DisplayName": "Ana Ruiz",
        "GivenName": "Ana",
        "FamilyName": "Ruiz",
        "EmployeeNumber": "REP01",
        "PrimaryEmailAddr": {"Address": "ana@example.com"},
        "PrimaryPhone": {"FreeFormNumber": "555-0100"},
        "Active": True,
        "MetaData": META,
    },
    {
        "Id": "54",
        "DisplayName": "Eli Ng",
        "GivenName": "Eli",
        "FamilyName": "Ng",
        "Mobile": {"FreeFormNumber": "555-0104"},
        "Active": False,
        "MetaData": META,
    },
    {"Id": "9", "GivenName": "Chloé", "FamilyName": "Martin", "MetaData": META},
]
CLASSES = [
    {"Id": "200", "Name": "Ana Ruiz", "FullyQualifiedName": "Ana Ruiz", "MetaData": META},
    {"Id": "201", "Name": "north  region", "Active": False, "MetaData": META},
]


def _field(value: str, name: str = "Sales Rep") -> list[dict]:
    return [{"DefinitionId": "1", "Name": name, "Type": "StringType", "StringValue": value}]


INVOICES = [
    {"Id": "1", "CustomerRef": {"value": "3"}, "CustomField": _field(" Ana Ruiz "),
     "ClassRef": {"value": "200"}},
    {"Id": "2", "CustomerRef": {"value": "3"}, "CustomField": _field("CM"),
     "Line": [{"SalesItemLineDetail": {"ClassRef": {"value": "201"}}}]},
    {"Id": "3", "CustomerRef": {"value": "3"}, "CustomField": _field("CM"),
     "Line": [{"SalesItemLineDetail": {}},
              {"SalesItemLineDetail": {"ClassRef": {"value": "201"}}}]},
    {"Id": "4", "CustomerRef": {"value": "4"}, "CustomField": _field("rep01")},
    {"Id": "5", "CustomerRef": {"value": "5"}, "CustomField": _field("X", "Crew #")},
    {"Id": "6", "CustomerRef": {"value": "5"}, "CustomField": _field("   ")},
    {"Id": "7", "CustomerRef": {"value": "6"}, "CustomField": _field("Gone")},
]  # fmt: skip


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect()
    raw.ensure_schema(con)
    for inv in INVOICES:
        deleted = inv["Id"] == "7"  # a deleted invoice's rep is not a rep any more
        con.execute(
            "INSERT INTO quickbooks.invoices VALUES (?, '0', ?, NULL, ?, ?)",
            [inv["Id"], f"2024-03-0{inv['Id']} 12:00:00+00", deleted, json.dumps(inv)],
        )
    yield con
    con.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, RepSource("employee")),
        ("", RepSource("employee")),
        (" employee ", RepSource("employee")),
        ("class", RepSource("class")),
        ("custom_field:Sales Rep", RepSource("custom_field", "Sales Rep")),
        ("custom_field: Sales Rep ", RepSource("custom_field", "Sales Rep")),
        ("custom_field:Rep:Name", RepSource("custom_field", "Rep:Name")),
    ],
)
def test_rep_source_parses_the_three_choices(value, expected):
    source = parse_rep_source(value)
    assert source == expected
    assert source.raw_entity == ("Class" if expected.kind == "class" else "Employee")
    assert parse_rep_source(source.setting) == source


@pytest.mark.parametrize(
    "value", ["employees", "custom_field", "custom_field:", "custom_field:  ", "class:x", "crm",
              "Class", "Custom_Field:Sales Rep"]
)  # fmt: skip
def test_rep_source_refuses_other_values_naming_the_variable(value):
    with pytest.raises(ValueError, match="QBPA_SALES_REP_SOURCE"):
        parse_rep_source(value)


def _reps(con) -> list[tuple]:
    return con.execute(
        "SELECT id, code, name, given_name, family_name, email, phone, active, source, "
        "employee_id FROM staging.sales_reps"
    ).fetchall()


def test_employee_source_one_rep_per_employee(con, tmp_path):
    land(con, tmp_path, "Employee", EMPLOYEES)
    assert sales_reps.refresh_sales_reps(con, parse_rep_source("employee")) == 3
    assert _reps(con) == [
        ("9", "CM", "Chloé Martin", "Chloé", "Martin", None, None, True, "employee", "9"),
        ("50", "REP01", "Ana Ruiz", "Ana", "Ruiz", "ana@example.com", "555-0100", True,
         "employee", "50"),
        ("54", "EN", "Eli Ng", "Eli", "Ng", None, "555-0104", False, "employee", "54"),
    ]  # fmt: skip


def test_class_source_one_rep_per_class(con, tmp_path):
    land(con, tmp_path, "Class", CLASSES)
    assert con.execute("SELECT count(*) FROM quickbooks.employees").fetchone()[0] == 2
    assert sales_reps.refresh_sales_reps(con, parse_rep_source("class")) == 2
    assert _reps(con) == [
        ("200", "AR", "Ana Ruiz", None, None, None, None, True, "class", None),
        ("201", "NR", "north  region", None, None, None, None, False, "class", None),
    ]


def test_custom_field_source_reps_are_the_values_seen_matched_to_employees(con, tmp_path):
    land(con, tmp_path, "Employee", EMPLOYEES)
    source = parse_rep_source("custom_field:sales rep")  # the name matches ignoring case
    assert sales_reps.refresh_sales_reps(con, source) == 3
    assert _reps(con) == [
        # "Ana Ruiz" is an employee's display name, "rep01" an EmployeeNumber: both take the
        # employee's details; "CM" are the initials of Chloé Martin, the only "CM".
        ("Ana Ruiz", "REP01", "Ana Ruiz", "Ana", "Ruiz", "ana@example.com", "555-0100", True,
         "custom_field", "50"),
        ("CM", "CM", "Chloé Martin", "Chloé", "Martin", None, None, True, "custom_field", "9"),
        ("rep01", "rep01", "Ana Ruiz", "Ana", "Ruiz", "ana@example.com", "555-0100", True,
         "custom_field", "50"),
    ]  # fmt: skip
    # Another field's values, blank values and deleted invoices' values are not reps.
    assert sales_reps.refresh_sales_reps(con, parse_rep_source("custom_field:Crew #")) == 1
    # Initials two employees share name nobody.
    land(con, tmp_path, "Employee", [*EMPLOYEES, {"Id": "60", "DisplayName": "Cara Moss"}])
    sales_reps.refresh_sales_reps(con, source)
    assert con.execute(
        "SELECT name, employee_id FROM staging.sales_reps WHERE id = 'CM'"
    ).fetchone() == ("CM", None)


def _txn_reps(con, setting: str) -> dict[str, str | None]:
    source = parse_rep_source(setting)
    rows = con.execute(
        f"SELECT id, {sales_reps.TXN_REP_SQL} FROM (SELECT id, json_transform(payload, "
        f"{shape(sales_reps.TXN_REP_SHAPE)}) AS v FROM quickbooks.invoices) ORDER BY id",
        source.sql_params,
    ).fetchall()
    return dict(rows)


def test_rep_of_a_transaction_from_each_source(con):
    assert set(_txn_reps(con, "employee").values()) == {None}
    by_class = _txn_reps(con, "class")
    assert (by_class["1"], by_class["2"], by_class["3"], by_class["4"]) == (
        "200",
        "201",
        "201",
        None,
    )
    by_field = _txn_reps(con, "custom_field:Sales Rep")
    assert [by_field[i] for i in "123456"] == ["Ana Ruiz", "CM", "CM", "rep01", None, None]


def test_usual_rep_of_a_customer_is_the_most_frequent(con):
    def usual(setting: str) -> list[tuple]:
        source = parse_rep_source(setting)
        return sorted(con.execute(sales_reps.USUAL_REP_SELECT, source.sql_params).fetchall())

    assert usual("employee") == []
    assert usual("custom_field:Sales Rep") == [("3", "CM"), ("4", "rep01")]
    assert usual("class") == [("3", "201")]


def test_salesrep_fil_default_layout(con, tmp_path: Path):
    land(con, tmp_path, "Employee", EMPLOYEES)
    sales_reps.refresh_sales_reps(con, parse_rep_source("employee"))
    layout = load_layout("salesrep.fil")
    layout.validate(con)
    result = write_fil(con, layout, tmp_path / "out" / "salesrep.fil")
    text = result.path.read_bytes().decode("utf-8")
    assert text.split("\r\n")[:2] == [
        "SALESREP_ID\tSALESREP_CODE\tSALESREP_NAME\tFIRST_NAME\tLAST_NAME\tEMAIL\tPHONE\tACTIVE"
        "\tLAST_MODIFIED",
        "9\tCM\tChloé Martin\tChloé\tMartin\t\t\tY\t2024-03-01 18:00:00",
    ]
    assert result.rows == 3 and text.count("\r\n") == 4 and "\tN\t" in text


def _sales_line(class_id: str | None = None) -> dict:
    detail: dict = {"ItemRef": {"value": "5"}, "Qty": 1, "UnitPrice": 10}
    if class_id:
        detail["ClassRef"] = {"value": class_id}
    return {
        "Id": "1",
        "DetailType": "SalesItemLineDetail",
        "Amount": 10,
        "SalesItemLineDetail": detail,
    }


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("employee", {"1": None, "2": None}),
        ("class", {"1": "200", "2": "201"}),
        ("custom_field:Sales Rep", {"1": "Ana Ruiz", "2": "CM"}),
    ],
)
def test_invoice_lines_carry_the_invoice_rep_of_the_source(setting, expected):
    from datetime import UTC, datetime

    from qbpa_assets.lib.invoices.staging import refresh_invoice_lines

    con = duckdb.connect()
    raw.ensure_schema(con)
    invoices = [
        {**INVOICES[0], "Line": [_sales_line(), _sales_line()]},
        {**INVOICES[1], "Line": [_sales_line("201")]},
    ]
    for inv in invoices:
        con.execute(
            "INSERT INTO quickbooks.invoices VALUES (?, '0', '2024-03-01 12:00:00+00', NULL, "
            "false, ?)",
            [inv["Id"], json.dumps(inv)],
        )
    source = parse_rep_source(setting)
    day = datetime(2024, 3, 1, tzinfo=UTC)
    assert refresh_invoice_lines(con, day, day.replace(day=2), source) == 3
    rows = con.execute("SELECT DISTINCT invoice_id, rep_id FROM staging.invoice_lines").fetchall()
    assert dict(rows) == expected
    layout = load_layout("invoice.fil")
    assert "SALESREP_ID" in layout.column_names
    layout.validate(con)


def test_customers_carry_their_usual_rep(con, tmp_path):
    from qbpa_assets.lib.master_data import staging

    customers = [{"Id": cid, "DisplayName": f"C{cid}", "MetaData": META} for cid in "3456"]
    land(con, tmp_path, "Customer", customers)
    assert staging.refresh_customers(con, parse_rep_source("custom_field:Sales Rep")) == 4
    rows = con.execute("SELECT id, usual_rep_id FROM staging.customers ORDER BY id").fetchall()
    assert rows == [("3", "CM"), ("4", "rep01"), ("5", None), ("6", None)]
    staging.refresh_customers(con, parse_rep_source("class"))
    assert con.execute("SELECT usual_rep_id FROM staging.customers WHERE id = '3'").fetchone() == (
        "201",
    )
    staging.refresh_customers(con)  # employee (the default): transactions name no employee
    assert con.execute("SELECT count(usual_rep_id) FROM staging.customers").fetchone() == (0,)
    layout = load_layout("customer.fil")
    layout.validate(con)
    result = write_fil(con, layout, tmp_path / "out" / "customer.fil")
    assert result.rows == 4 and "SALESREP_ID" in layout.column_names


def test_custom_field_source_before_any_invoice_landed_builds_an_empty_table(tmp_path, caplog):
    # A fresh install set to custom_field: the first master-data run comes before any invoice.
    con = duckdb.connect()
    land(con, tmp_path, "Employee", EMPLOYEES)
    con.execute("DROP TABLE IF EXISTS quickbooks.invoices")
    source = parse_rep_source("custom_field:Sales Rep")
    assert sales_reps.refresh_sales_reps(con, source) == 0
    assert "no invoices landed yet" in caplog.text
    con.close()
