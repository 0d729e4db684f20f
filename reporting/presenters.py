"""Text shapes shared by the reporting commands and the investor portal: the transaction-log CSV of
`export_transactions --csv` and the tax CSV of `tax_report --csv`, so a download and a command can
never disagree."""

from __future__ import annotations

import csv
from typing import TextIO

from core.decimals import format_decimal
from core.presenters import money_text, present_json, price_text

from .selectors import EXPORT_FIELDS

TAX_HEADER = ["asset", "quantity", "acquired", "disposed", "proceeds", "cost_basis", "fees", "gain", "holding_days",
              "term", "flag"]


def transactions_csv_write(out: TextIO, export: dict) -> None:
    """A `transactions_export` as CSV, amounts quantized to their asset (core.presenters)."""
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for tx in present_json(export)["transactions"]:
        writer.writerow({k: "" if v is None else v for k, v in tx.items()})


def _money(value) -> str:
    return money_text(value, "USD")


def tax_rows(report: dict) -> list[list]:
    """The disposals of a tax report as TAX_HEADER rows (money rounded to cents, USD)."""
    return [[r["asset"], format_decimal(r["quantity"]), r["acquired"] or "", r["disposed"], _money(r["proceeds"]),
             _money(r["cost_basis"]), _money(r["fees"]), _money(r["gain"]),
             "" if r["holding_days"] is None else r["holding_days"], r["term"], r["flag"]]
            for r in report["disposals"]]


TAX_PRICES_TITLE = "prices used (USD)"
TAX_PRICES_HEADER = ["asset", "quote", "price", "observed_at", "source"]


def tax_price_rows(report: dict) -> list[list]:
    """The prices a tax report's lots used, as TAX_PRICES_HEADER rows."""
    return [[p["asset"], p["quote"], price_text(p["price"]), p["observed_at"].isoformat(), p["source"]]
            for p in report["prices"]]


def tax_csv_write(out: TextIO, report: dict) -> None:
    """The disposals, then (after an empty line and a title row) the prices they used."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TAX_HEADER)
    writer.writerows(tax_rows(report))
    writer.writerow([])
    writer.writerow([TAX_PRICES_TITLE])
    writer.writerow(TAX_PRICES_HEADER)
    writer.writerows(tax_price_rows(report))
