"""An order's sales rep: the reasons that reject an order, the custom field or ClassRef written."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from qbpa_assets.lib.master_data.rep_source import parse_rep_source
from qbpa_assets.lib.orders import reps
from qbpa_assets.lib.orders.tables import ensure_tables
from qbpa_assets.lib.orders.validate import validate_orders

# The two shapes of SalesFormsPrefs.CustomField: QuickBooks' nested name/flag pairs, and flat
# entries that carry DefinitionId and Name.
NESTED = {
    "SalesFormsPrefs": {
        "CustomField": [
            {
                "CustomField": [
                    {"Name": "SalesFormsPrefs.UseSalesCustom1", "BooleanValue": True},
                    {"Name": "SalesFormsPrefs.UseSalesCustom2", "BooleanValue": True},
                    {"Name": "SalesFormsPrefs.UseSalesCustom3", "BooleanValue": False},
                ]
            },
            {
                "CustomField": [
                    {"Name": "SalesFormsPrefs.SalesCustomName1", "StringValue": "Crew #"},
                    {"Name": "SalesFormsPrefs.SalesCustomName2", "StringValue": "Sales Rep"},
                    {"Name": "SalesFormsPrefs.SalesCustomName3", "StringValue": "Old Field"},
                ]
            },
        ]
    }
}
FLAT = {
    "SalesFormsPrefs": {
        "CustomField": [
            {"DefinitionId": "1", "Name": "Sales Rep", "Type": "StringType"},
            {"DefinitionId": "3", "Name": "Route", "Type": "StringType"},
        ]
    }
}


@pytest.mark.parametrize(
    ("prefs", "expected"),
    [
        (NESTED, {"crew #": "1", "sales rep": "2"}),  # field 3 is switched off
        (FLAT, {"sales rep": "1", "route": "3"}),
        ({}, {}),
        ({"SalesFormsPrefs": {"CustomField": []}}, {}),
    ],
)
def test_custom_field_definitions_from_preferences(prefs, expected):
    assert reps.custom_field_definitions(prefs) == expected


def _payload() -> dict:
    return {
        "DocNumber": "PA-1",
        "CustomField": [{"DefinitionId": "1", "StringValue": "crew 7", "Type": "StringType"}],
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "5"}},
            }
        ],
    }


def test_custom_field_writer_uses_the_definition_id_found_by_name():
    writer = reps.rep_writer(parse_rep_source("custom_field:sales rep"), NESTED)
    payload = _payload()
    writer.apply(payload, " CM ")
    assert payload["CustomField"] == [
        {"DefinitionId": "1", "StringValue": "crew 7", "Type": "StringType"},
        {"DefinitionId": "2", "Name": "sales rep", "Type": "StringType", "StringValue": "CM"},
    ]
    assert "ClassRef" not in payload
    blank = _payload()
    writer.apply(blank, "  ")
    assert blank == _payload()  # no rep: nothing written


def test_custom_field_unknown_to_the_company_is_a_configuration_error():
    with pytest.raises(reps.RepConfigError, match="QBPA_SALES_REP_SOURCE=custom_field:Rep.*"):
        reps.rep_writer(parse_rep_source("custom_field:Rep"), NESTED)
    with pytest.raises(reps.RepConfigError, match="Old Field"):  # defined but switched off
        reps.rep_writer(parse_rep_source("custom_field:Old Field"), NESTED)


@pytest.mark.parametrize("per_line", [False, True])
def test_class_writer_sets_class_ref(per_line):
    prefs = {
        "AccountingInfoPrefs": {"ClassTrackingPerTxn": True, "ClassTrackingPerTxnLine": per_line}
    }
    payload = _payload()
    reps.rep_writer(parse_rep_source("class"), prefs).apply(payload, "200")
    assert payload["ClassRef"] == {"value": "200"}
    line_class = payload["Line"][0]["SalesItemLineDetail"].get("ClassRef")
    assert line_class == ({"value": "200"} if per_line else None)


def test_employee_writer_leaves_the_document_alone_and_says_why_once(caplog):
    caplog.set_level("INFO", logger=reps.__name__)
    writer = reps.rep_writer(parse_rep_source("employee"), NESTED)
    payload = _payload()
    writer.apply(payload, "50")
    writer.apply(payload, "51")
    assert payload == _payload()
    assert [r.getMessage() for r in caplog.records] == [reps.EMPLOYEE_NOT_WRITTEN]


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_tables(con)
    con.execute(
        "CREATE SCHEMA staging; "
        "CREATE TABLE staging.customers AS "
        "SELECT '1' AS id, 'Amy' AS display_name, true AS active; "
        "CREATE TABLE staging.items AS SELECT '5' AS id, 'Bolt' AS name, true AS active"
    )
    orders = [
        ("1", "50"),  # active rep
        ("2", "54"),  # inactive rep
        ("3", "R9"),  # unknown rep
        ("4", None),  # no rep: fine
        ("5", "  "),  # blank rep: fine
        ("7", " 50 "),  # padded: trimmed
    ]
    for order_id, rep_id in orders:
        con.execute(
            "INSERT INTO inventiv_db.orders (order_id, order_no, order_date, customer_id, rep_id) "
            "VALUES (?, ?, ?, '1', ?)",
            [order_id, f"PA-{order_id}", DAY, rep_id],
        )
        con.execute(
            "INSERT INTO inventiv_db.order_lines (order_id, line_no, item_id, qty, unit_price) "
            "VALUES (?, 1, '5', 1, 10)",
            [order_id],
        )
    # Another day's order with an unknown rep, and one whose customer is unknown too.
    con.execute(
        "INSERT INTO inventiv_db.orders (order_id, order_no, order_date, customer_id, rep_id) "
        "VALUES ('6', 'PA-6', ?, '1', 'R9'), ('8', 'PA-8', ?, '404', 'R9')",
        [DAY + timedelta(days=1), DAY],
    )
    yield con
    con.close()


DAY = date(2024, 3, 1)


def _validate(con, setting: str | None) -> dict[str, list[str]]:
    source = parse_rep_source(setting) if setting is not None else None
    return validate_orders(con, DAY, DAY + timedelta(days=1), source)


def test_reps_are_not_checked_before_they_are_staged(con):
    assert not reps.reps_staged(con)
    found = _validate(con, "employee")
    assert set(found) == {"8"}
    assert not [r for r in found["8"] if "rep" in r]


def _stage_reps(con, kind: str) -> None:
    # As staging does: Employees are their own employee_id; Classes match no employee.
    con.execute(
        "CREATE OR REPLACE TABLE staging.sales_reps AS "
        "SELECT *, ? AS source, CASE WHEN ? = 'employee' THEN id END AS employee_id FROM (VALUES "
        "('50', 'Ana Ruiz', true), ('54', 'Eli Ng', false)) AS t(id, name, active)",
        [kind, kind],
    )


@pytest.mark.parametrize(
    ("setting", "unknown"),
    [
        ("employee", "sales rep R9 is not a QuickBooks employee"),
        ("class", "sales rep R9 is not a QuickBooks class"),
        ("custom_field:Sales Rep", "sales rep R9 is not a value of the QuickBooks custom field "
         "'Sales Rep'"),
    ],
)  # fmt: skip
def test_unknown_or_inactive_rep_rejects_the_order(con, setting, unknown):
    source = parse_rep_source(setting)
    _stage_reps(con, source.kind)
    assert reps.reps_staged(con, source)
    found = _validate(con, setting)
    assert found == {
        "2": ["sales rep 54 (Eli Ng) is inactive in QuickBooks"],
        "3": [unknown],
        # Ranked after the customer's reason, before the lines' (order 8 has none).
        "8": ["customer 404 does not exist in QuickBooks", unknown, "order has no lines"],
    }
    # Without a rep source (the library default) reps are left alone.
    assert set(_validate(con, None)) == {"8"}


def test_reps_staged_for_another_source_are_not_checked(con, caplog):
    _stage_reps(con, "employee")  # then QBPA_SALES_REP_SOURCE became class
    source = parse_rep_source("class")
    assert reps.reps_staged(con) and not reps.reps_staged(con, source)
    assert set(_validate(con, "class")) == {"8"}
    caplog.set_level("WARNING", logger=reps.__name__)
    reps.prepare(con, _Client({}), source)
    assert [r.getMessage() for r in caplog.records] == [reps.REPS_NOT_STAGED]


class _Client:
    """Only what prepare() uses: the company's Preferences, counted."""

    def __init__(self, preferences: dict) -> None:
        self.prefs, self.calls = preferences, 0

    def preferences(self) -> dict:
        self.calls += 1
        return self.prefs


def test_prepare_reads_preferences_for_a_custom_field_only_and_writes_each_orders_rep(con, caplog):
    caplog.set_level("WARNING", logger=reps.__name__)
    client = _Client(NESTED)
    writer = reps.prepare(con, client, parse_rep_source("custom_field:Sales Rep"))
    assert client.calls == 1 and writer.definition_id == "2"
    assert [r.getMessage() for r in caplog.records] == [reps.REPS_NOT_STAGED]
    payloads = {"1": _payload(), "4": _payload(), "7": _payload()}
    reps.write_reps(con, writer, payloads)
    assert [f["StringValue"] for f in payloads["1"]["CustomField"]] == ["crew 7", "50"]
    assert payloads["4"] == _payload()  # no rep
    assert payloads["7"]["CustomField"][-1]["StringValue"] == "50"
    for setting in ("employee", "class"):
        reps.prepare(con, client, parse_rep_source(setting))
    assert client.calls == 1


def test_custom_field_reps_also_match_a_unique_employee_id_and_write_the_fields_value(con):
    # The values seen on invoices, matched to employees; "51" is the Employee Id of two values.
    con.execute(
        "CREATE OR REPLACE TABLE staging.sales_reps AS SELECT *, 'custom_field' AS source FROM "
        "(VALUES ('AR', 'Ana Ruiz', true, '50'), ('EN', 'Eli Ng', false, '54'), "
        "('BO', 'Ben Okafor', true, '51'), ('Ben', 'Ben Okafor', true, '51'), "
        "('R9', 'R9', true, NULL)) AS t(id, name, active, employee_id)"
    )
    con.execute(
        "INSERT INTO inventiv_db.orders (order_id, order_no, order_date, customer_id, rep_id) "
        "VALUES ('9', 'PA-9', ?, '1', '51'), ('10', 'PA-10', ?, '1', 'AR')",
        [DAY, DAY],
    )
    con.execute(
        "INSERT INTO inventiv_db.order_lines (order_id, line_no, item_id, qty, unit_price) "
        "VALUES ('9', 1, '5', 1, 10), ('10', 1, '5', 1, 10)"
    )
    unknown = "is not a value of the QuickBooks custom field 'Sales Rep'"
    assert _validate(con, "custom_field:Sales Rep") == {
        "2": ["sales rep 54 (Eli Ng) is inactive in QuickBooks"],
        "8": ["customer 404 does not exist in QuickBooks", "order has no lines"],
        "9": [f"sales rep 51 {unknown}"],  # two values share Employee 51: which one is unknown
    }
    writer = reps.rep_writer(parse_rep_source("custom_field:Sales Rep"), NESTED)
    payloads = {"1": _payload(), "3": _payload(), "7": _payload(), "10": _payload()}
    reps.write_reps(con, writer, payloads)
    written = {k: p["CustomField"][-1]["StringValue"] for k, p in payloads.items()}
    assert written == {"1": "AR", "3": "R9", "7": "AR", "10": "AR"}
