"""Where a company keeps its sales reps: the parsed ``QBPA_SALES_REP_SOURCE`` setting.

QuickBooks Online has no sales-rep list (QuickBooks Desktop had one), so companies use one of
three things, and this setting says which:

* ``employee`` (default): the QuickBooks **Employees** are the reps. A rep's id is the Employee
  Id. QuickBooks transactions have no field for an employee, so invoices carry no rep and an
  order's rep is validated but not written into the QuickBooks document.
* ``custom_field:<name>``: a transaction **custom field** (Settings → Account and settings →
  Sales → Custom fields, e.g. ``custom_field:Sales Rep``). A rep's id is the field's text as the
  company types it on its invoices; the reps are the distinct values seen on landed invoices.
* ``class``: **Classes** (Settings → Account and settings → Advanced → Track classes). A rep's
  id is the Class Id.

How to tell which one a company uses: open a few recent invoices in QuickBooks. A "Sales Rep"
(or similar) box in the header is a custom field (use its label as ``<name>``); a "Class" box
holding people's names means classes; neither means reps are kept only as Employees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Environment variable that holds the setting.
VARIABLE = "QBPA_SALES_REP_SOURCE"
DEFAULT = "employee"

Kind = Literal["employee", "custom_field", "class"]


@dataclass(frozen=True)
class RepSource:
    """A parsed sales-rep source.

    Attributes:
        kind: ``employee``, ``custom_field`` or ``class``.
        field_name: The custom field's name (``custom_field`` only), else None.
    """

    kind: Kind
    field_name: str | None = None

    @property
    def raw_entity(self) -> str:
        """The QuickBooks entity ``quickbooks/employees`` lands for this source.

        Employees for ``employee`` and ``custom_field`` (for a custom field they give a rep's
        name, e-mail and phone when the field's value is an employee's name or number);
        Classes for ``class``.
        """
        return "Class" if self.kind == "class" else "Employee"

    @property
    def setting(self) -> str:
        """The setting as written in ``QBPA_SALES_REP_SOURCE``."""
        return f"custom_field:{self.field_name}" if self.kind == "custom_field" else self.kind

    @property
    def sql_params(self) -> dict[str, str | None]:
        """Named parameters ``rep_source`` and ``rep_field`` for the rep SQL expressions."""
        return {"rep_source": self.kind, "rep_field": self.field_name}


def parse_rep_source(value: str | None) -> RepSource:
    """Parse ``QBPA_SALES_REP_SOURCE``.

    Args:
        value: ``employee``, ``class`` or ``custom_field:<name>`` (the name as QuickBooks shows
            it; it is matched ignoring case); None or blank means ``employee``. The same values
            as ``qbpa_assets.config`` accepts for the variable.

    Returns:
        The source.

    Raises:
        ValueError: Any other value; the message names the variable and the accepted forms.
    """
    text = (value or "").strip() or DEFAULT
    keyword, sep, name = text.partition(":")
    if keyword == "custom_field" and sep:
        name = name.strip()
        if not name:
            raise ValueError(f"{VARIABLE}=custom_field: needs the field's name after the colon")
        return RepSource("custom_field", name)
    if not sep and keyword in ("employee", "class"):
        return RepSource(keyword)  # type: ignore[arg-type]
    raise ValueError(
        f"{VARIABLE}={text!r} is not valid: use employee, class or custom_field:<name> "
        "(e.g. custom_field:Sales Rep)"
    )
