"""A demo Inventiv (PocketAdvantage) order database, reached through a real ODBC driver.

The default Inventiv order schema (``ORDERS`` + ``ORDER_LINES``) in a SQLite file, opened with
unixODBC's ``SQLite3`` driver exactly as a customer's database would be. The orders reference the
sample company's usable customers and items, plus a few invalid orders, each wrong for a
different reason, so the demo shows both created and rejected orders.

The schema and insert helpers are shared with the test fixtures (SQLite and PostgreSQL).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc

from qbpa_assets.sandbox.company import SampleCompany

# The default Inventiv order tables. Plain SQL types that SQLite, PostgreSQL and SQL Server all
# accept (SQLite stores dates as text; the driver converts them by declared type).
SCHEMA = (
    """CREATE TABLE ORDERS (
        ORDER_ID INTEGER PRIMARY KEY, ORDER_NO VARCHAR(60), ORDER_DATE DATE NOT NULL,
        CUSTOMER_ID VARCHAR(40), REP_ID VARCHAR(40), PO_NUMBER VARCHAR(60), SHIP_DATE DATE,
        NOTES VARCHAR(4000), MODIFIED_AT TIMESTAMP NOT NULL)""",
    """CREATE TABLE ORDER_LINES (
        ORDER_ID INTEGER NOT NULL, LINE_NO INTEGER NOT NULL, ITEM_ID VARCHAR(40),
        QTY NUMERIC(18,4), UNIT_PRICE NUMERIC(18,4), DESCRIPTION VARCHAR(4000),
        PRIMARY KEY (ORDER_ID, LINE_NO))""",
    "CREATE INDEX ORDERS_MODIFIED ON ORDERS (MODIFIED_AT, ORDER_ID)",
    "CREATE INDEX ORDERS_DATE ON ORDERS (ORDER_DATE)",
)

INVALID_KINDS = ("unknown_item", "inactive_customer", "zero_qty", "long_order_no")
# A fifth invalid order (``invalid=5``, as the demo asks) has a rep who is inactive in QuickBooks.
DEMO_INVALID_KINDS = (*INVALID_KINDS, "inactive_rep")


@dataclass
class DemoLine:
    """One order line (``ORDER_LINES`` row without the order id)."""

    item_id: str | None
    qty: Decimal | float | int | None
    unit_price: Decimal | float | int | None
    description: str | None = None
    line_no: int | None = None


@dataclass
class DemoOrder:
    """One ``ORDERS`` row and its lines."""

    order_id: int
    order_no: str | None
    order_date: date
    customer_id: str | None
    lines: list[DemoLine] = field(default_factory=list)
    rep_id: str | None = "R01"
    po_number: str | None = None
    ship_date: date | None = None
    notes: str | None = None
    modified_at: datetime | None = None
    kind: str = "valid"  # or one of DEMO_INVALID_KINDS (for tests and the demo narrative)


def sqlite_connection_string(path: Path | str) -> str:
    """ODBC connection string for a SQLite file through unixODBC's ``SQLite3`` driver.

    The SQLite ODBC driver takes ``Database=`` literally (no ``{...}`` quoting), so a path with
    ``;`` cannot be expressed and is refused.
    """
    text = str(path)
    if ";" in text or text.startswith("{"):
        raise ValueError(f"the SQLite ODBC driver cannot open a path containing ';': {text!r}")
    return f"Driver=SQLite3;Database={text}"


def create_schema(conn: pyodbc.Connection) -> None:
    """Create the default Inventiv order tables on an open ODBC connection."""
    cur = conn.cursor()
    for statement in SCHEMA:
        cur.execute(statement)
    conn.commit()


def insert_orders(conn: pyodbc.Connection, orders: Sequence[DemoOrder]) -> None:
    """Insert orders and their lines in one transaction (parameterized executemany)."""
    if not orders:
        return
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        cur = conn.cursor()
        cur.executemany(
            "INSERT INTO ORDERS (ORDER_ID, ORDER_NO, ORDER_DATE, CUSTOMER_ID, REP_ID, PO_NUMBER,"
            " SHIP_DATE, NOTES, MODIFIED_AT) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    o.order_id,
                    o.order_no,
                    o.order_date,
                    o.customer_id,
                    o.rep_id,
                    o.po_number,
                    o.ship_date,
                    o.notes,
                    o.modified_at or _noon(o.order_date),
                )
                for o in orders
            ],
        )
        line_rows = [
            (
                o.order_id,
                line.line_no or n,
                line.item_id,
                _num(line.qty),
                _num(line.unit_price),
                line.description,
            )
            for o in orders
            for n, line in enumerate(o.lines, start=1)
        ]
        if line_rows:
            cur.executemany(
                "INSERT INTO ORDER_LINES (ORDER_ID, LINE_NO, ITEM_ID, QTY, UNIT_PRICE,"
                " DESCRIPTION) VALUES (?, ?, ?, ?, ?, ?)",
                line_rows,
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = autocommit


def _num(value: Any) -> Any:
    # Bind numbers as Decimal text-exact values; floats would round-trip as 19.990000000000002.
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, 0)


def generate_orders(
    company: SampleCompany,
    *,
    orders: int = 25,
    invalid: int = 4,
    days: int = 3,
    seed: int = 1,
    end_date: date | None = None,
    lines_per_order: tuple[int, int] = (1, 4),
    first_order_id: int = 1,
) -> list[DemoOrder]:
    """Deterministic orders over ``days`` days ending ``end_date`` (default: today, UTC).

    The last ``invalid`` orders are invalid, cycling through :data:`DEMO_INVALID_KINDS`
    (unknown item, inactive customer, quantity 0, order number longer than 21 characters, a
    rep who is inactive in QuickBooks).

    ``REP_ID`` holds what ``salesrep.fil`` exports for the default rep source (``employee``):
    an Employee Id, of an active employee on the valid orders.
    """
    rng = random.Random(seed)
    end_date = end_date or datetime.now(UTC).date()
    customers = company.usable_customers()
    items = company.usable_items()
    inactive = [c for c in company.customers if not c.get("Active", True)]
    reps = [str(e["Id"]) for e in company.employees if e.get("Active", True)]
    inactive_reps = [str(e["Id"]) for e in company.employees if not e.get("Active", True)]
    if not customers or not items:
        raise ValueError("the sample company has no usable customers or items")
    out: list[DemoOrder] = []
    invalid = min(invalid, orders)
    for n in range(orders):
        order_id = first_order_id + n
        day = end_date - timedelta(days=rng.randrange(max(1, days)))
        customer = customers[rng.randrange(len(customers))]
        lo, hi = lines_per_order
        lines = []
        for line_no in range(1, rng.randint(lo, hi) + 1):
            item = items[rng.randrange(len(items))]
            lines.append(
                DemoLine(
                    item_id=str(item["Id"]),
                    qty=rng.randint(1, 12),
                    unit_price=Decimal(str(item.get("UnitPrice") or 0)).quantize(Decimal("0.01")),
                    description=str(item.get("Name", ""))[:200],
                    line_no=line_no,
                )
            )
        order = DemoOrder(
            order_id=order_id,
            order_no=f"PA-{day:%y%m%d}-{order_id:05d}",
            order_date=day,
            customer_id=str(customer["Id"]),
            lines=lines,
            rep_id=_rep(reps, rng.randint(1, 5)),
            po_number=f"PO{rng.randint(1000, 99999)}" if rng.random() < 0.6 else None,
            ship_date=day + timedelta(days=rng.randint(1, 7)),
            notes="Deliver to the back door" if rng.random() < 0.2 else None,
            modified_at=datetime(day.year, day.month, day.day, 8)
            + timedelta(seconds=rng.randrange(10 * 3600)),
        )
        k = n - (orders - invalid)
        if k >= 0:
            kind = DEMO_INVALID_KINDS[k % len(DEMO_INVALID_KINDS)]
            order.kind = kind
            if kind == "unknown_item":
                order.lines[0].item_id = "999999"
            elif kind == "inactive_customer":
                order.customer_id = str(inactive[0]["Id"]) if inactive else "999998"
            elif kind == "zero_qty":
                order.lines[0].qty = 0
            elif kind == "inactive_rep":
                order.rep_id = inactive_reps[0] if inactive_reps else "999997"
            elif kind == "long_order_no":
                order.order_no = f"PA-TOO-LONG-{order_id:05d}-XXXXXXXXXX"
        out.append(order)
    return out


def _rep(reps: list[str], draw: int) -> str:
    # One draw per order whatever the company, so every other field stays as it was.
    return reps[(draw - 1) % len(reps)] if reps else f"R{draw:02d}"


def create_demo_db(path: Path, company: SampleCompany, **options: Any) -> str:
    """Create (or replace) a demo Inventiv SQLite database reached through ODBC.

    Args:
        path: The SQLite file to create (replaced if it exists).
        company: The sample QuickBooks company whose customers and items the orders use.
        **options: :func:`generate_orders`' keywords: ``orders`` (25), ``invalid`` (4), ``days``
            (3), ``seed`` (1), ``end_date`` (today, UTC), ``lines_per_order``, ``first_order_id``.

    Returns:
        The ODBC connection string (``Driver=SQLite3;Database=...``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    conn_str = sqlite_connection_string(path)
    conn = pyodbc.connect(conn_str, autocommit=True)
    try:
        create_schema(conn)
        insert_orders(conn, generate_orders(company, **options))
    finally:
        conn.close()
    return conn_str
