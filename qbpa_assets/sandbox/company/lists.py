"""The company's small lists and settings: terms, accounts, employees, vendors, Preferences."""

from __future__ import annotations

from typing import Any

from qbpa_assets.sandbox.company.common import metadata
from qbpa_assets.sandbox.company.reps import SALES_REP_FIELD, custom_field_preferences
from qbpa_assets.sandbox.company.vocabulary import (
    COGS_ACCOUNT,
    DISCOUNT_ACCOUNT,
    INVENTORY_ACCOUNT,
    SALES_ACCOUNT,
    SERVICE_ACCOUNT,
    TERMS,
    USD,
)


def default_preferences(
    custom_txn_numbers: bool = True, custom_fields: tuple[str, ...] = (SALES_REP_FIELD,)
) -> dict[str, Any]:
    """Return a QBO ``Preferences`` object.

    Args:
        custom_txn_numbers: Whether users type DocNumbers (duplicates are then refused).
        custom_fields: Names of the transaction custom fields (at most three; DefinitionId 1..3).
    """
    return {
        "AccountingInfoPrefs": {
            "TrackDepartments": False,
            "ClassTrackingPerTxn": True,
            "ClassTrackingPerTxnLine": False,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "CustomTxnNumbers": custom_txn_numbers,
            "AllowDeposit": True,
            "AllowDiscount": True,
            "DefaultDiscountAccount": DISCOUNT_ACCOUNT["value"],
            "AllowEstimates": True,
            "EstimateMessage": "Please review the estimate below.",
            "ETransactionEnabledStatus": "NotApplicable",
            "DefaultTerms": {"value": "3"},
            "UsingProgressInvoicing": False,
            "CustomField": custom_field_preferences(custom_fields),
        },
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "TimeTrackingPrefs": {"UseServices": True, "WorkWeekStartDate": "Monday"},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": {
            "CreateTime": "2020-01-01T09:00:00-08:00",
            "LastUpdatedTime": "2020-01-01T09:00:00-08:00",
        },
    }


def small_lists(t0: float) -> dict[str, list[dict[str, Any]]]:
    """Return the terms, accounts, employees and vendors (created long before ``t0``)."""
    meta = metadata(t0 - 400 * 86400, t0 - 400 * 86400)
    base = {"domain": "QBO", "sparse": False, "SyncToken": "0", "MetaData": meta}
    terms = [
        {**base, "Id": tid, "Name": name, "Active": True, "Type": "STANDARD", "DueDays": days}
        for tid, name, days in TERMS
    ]
    accounts = [
        {**base, "Id": ref["value"], "Name": ref["name"], "Active": True, "AccountType": kind}
        for ref, kind in (
            (SERVICE_ACCOUNT, "Income"),
            (SALES_ACCOUNT, "Income"),
            (COGS_ACCOUNT, "Cost of Goods Sold"),
            (INVENTORY_ACCOUNT, "Other Current Asset"),
            (DISCOUNT_ACCOUNT, "Income"),
        )
    ]
    employees = [
        {
            **base,
            "Id": str(50 + k),
            "GivenName": first,
            "FamilyName": last,
            "DisplayName": f"{first} {last}",
            "PrintOnCheckName": f"{first} {last}",
            "Active": k != 4,
            "EmployeeNumber": f"REP{k + 1:02d}",
            "PrimaryEmailAddr": {"Address": f"{first.lower()}@example.com"},
        }
        for k, (first, last) in enumerate(
            (
                ("Ana", "Ruiz"),
                ("Ben", "Okafor"),
                ("Chloé", "Martin"),
                ("Dev", "Patel"),
                ("Eli", "Ng"),
            )
        )
    ]
    vendors = [
        {
            **base,
            "Id": str(60 + k),
            "DisplayName": name,
            "CompanyName": name,
            "PrintOnCheckName": name,
            "Active": k != 3,
            "Balance": 0.0,
            "Vendor1099": False,
            "CurrencyRef": USD,
        }
        for k, name in enumerate(
            ("Acme Fasteners", "Nordic Pumps AB", "Gärtner Großhandel", "Old Supplier Inc.")
        )
    ]
    return {"terms": terms, "accounts": accounts, "employees": employees, "vendors": vendors}
