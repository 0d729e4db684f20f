"""Issue 10 §1 defects in lot matching, each pinned by the case that showed it: a fee paid in the asset a
sale brings in (1), HIFO ties (6), crypto-for-crypto trades and fees with no USD price (5)."""

from decimal import Decimal as D
from io import StringIO

from django.core.management import call_command

from reporting.lots import FEE_PAYMENT, FLAG_MISSING, FLAG_UNPRICED, TRADE, PriceBook, fee_value_usd
from reporting.selectors import AccountBooks, positions_view, tax_report
from reporting.services import ledger_import_csv
from tests.reporting.test_lots_pinned import at, entry, match, trade  # the pinned suite's ledger-row helpers

HEADER = "occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"


# --- 1: a fee in the asset the sale brings in ------------------------------------------------------
def eth_then_sold_for_btc():
    # 10 ETH bought at 1,500 (15,000 USD); sold for 0.5 BTC with a 0.0005 BTC fee, BTC at 40,000:
    # the sale is worth 20,000 USD, the fee 20 USD, and 0.4995 BTC stay, worth 19,980.
    prices = PriceBook()
    prices.add("BTC", at(0), D("40000"))
    rows = [trade(at(0), "ETH", "10", "-15000"),
            trade(at(1), "ETH", "-10", "0.5", counter_asset="BTC", fee="0.0005", fee_asset="BTC")]
    return rows, prices


def test_a_fee_in_the_received_asset_is_taken_from_what_the_sale_brought_in():
    rows, prices = eth_then_sold_for_btc()
    for method in ("fifo", "lifo", "hifo"):
        result = match(rows, method=method, prices=prices)
        # No disposal of BTC at all: no fake zero-basis "missing_acquisition" sale with a gain.
        [sale] = result.disposals
        assert (sale.asset, sale.quantity, sale.purpose, sale.flag) == ("ETH", D("10"), TRADE, "")
        assert (sale.proceeds, sale.cost_basis, sale.fees, sale.gain) == (
            D("20000"), D("15000"), D("20.0000"), D("4980.0000"))
        [btc] = result.open_lots["BTC"]
        assert (btc.quantity, btc.cost, btc.acquired_at) == (D("0.4995"), D("19980.0000"), at(1))


def test_a_received_asset_fee_reduces_the_new_lot_not_an_older_one():
    # An older BTC lot (0.1 at 30,000 = 3,000) must not pay the fee under LIFO or HIFO either:
    # the fee comes out of the 0.5 BTC just received.
    rows, prices = eth_then_sold_for_btc()
    rows = [trade(at(0), "BTC", "0.1", "-3000")] + rows
    for method in ("fifo", "lifo", "hifo"):
        result = match(rows, method=method, prices=prices)
        assert [d.asset for d in result.disposals] == ["ETH"]
        assert sorted((lot.quantity, lot.cost) for lot in result.open_lots["BTC"]) == [
            (D("0.1"), D("3000")), (D("0.4995"), D("19980.0000"))]


def test_a_received_asset_fee_is_valued_at_the_trade_rate():
    # No BTC price: the fee is valued through the trade itself (10 ETH at 1,600 = 16,000 for 0.5 BTC).
    prices = PriceBook()
    prices.add("ETH", at(0), D("1600"))
    row = trade(at(1), "ETH", "-10", "0.5", counter_asset="BTC", fee="0.0005", fee_asset="BTC")
    assert fee_value_usd(row, prices) == D("16.0000")


def test_show_positions_holds_what_the_account_holds_after_a_received_asset_fee(make_account):
    account = make_account()
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2025-03-01T09:00:00Z,trade,paper,ETH,10,USD,-15000,,,t-1\n"
        "2025-03-02T09:00:00Z,trade,paper,ETH,-10,BTC,0.5,BTC,0.0005,t-2\n"))
    for method in ("fifo", "lifo", "hifo"):
        positions = {p["asset"]: p for p in positions_view(books=AccountBooks(account=account, method=method))}
        assert set(positions) == {"BTC"}
        assert positions["BTC"]["quantity"] == D("0.4995")
    report = tax_report(account=account, year=2025)
    assert [r["asset"] for r in report["disposals"]] == ["ETH"]
    assert FLAG_MISSING not in report["disposals"][0]["flag"]


# --- 6: HIFO ties compare exactly ---------------------------------------------------------------------
def test_hifo_equal_unit_costs_go_to_the_older_lot_even_where_division_rounds_differently():
    # Both lots cost exactly 166,811,356.952530079674391044...9 a unit (as fractions), but at 28 digits
    # cost / quantity rounds the older lot's unit cost DOWN in the last place and the newer one's up,
    # so the newer lot looked dearer. Costs this large are within what the ledger stores (18 places).
    older = trade(at(0), "SOL", "8011", "-1336325780546.718468271545806843", fee="0.000000000000854652",
                  fee_asset="USD")
    newer = trade(at(1), "SOL", "3405", "-567992670423.364921291300556481", fee="0.000000000000951744",
                  fee_asset="USD")
    sale = trade(at(2), "SOL", "-1", "200000000")
    [d] = match([older, newer, sale], method="hifo").disposals
    assert d.acquired_at == at(0)


def test_hifo_a_dearer_lot_by_one_part_in_ten_to_the_thirty_still_goes_first():
    # Unequal costs must still order by cost, however small the difference.
    cheaper = trade(at(0), "SOL", "3", "-1000000000.000000000000000000")
    dearer = trade(at(1), "SOL", "3", "-1000000000.000000000000000003")
    sale = trade(at(2), "SOL", "-1", "400000000")
    [d] = match([cheaper, dearer, sale], method="hifo").disposals
    assert d.acquired_at == at(1)


# --- 5: no USD price is flagged, never a silent zero ---------------------------------------------------
def test_an_unpriced_crypto_for_crypto_buy_opens_a_lot_flagged_unpriced():
    # 100 XYZ bought for 2 ABC; neither has any USD price: the XYZ lot has no known cost.
    rows = [entry(at(0), "deposit", "ABC", "5"),
            trade(at(1), "XYZ", "100", "-2", counter_asset="ABC"),
            trade(at(2), "XYZ", "-40", "1", counter_asset="ABC")]
    result = match(rows)
    abc_out, xyz_out = result.disposals
    assert abc_out.asset == "ABC" and FLAG_UNPRICED in abc_out.flag.split(";")
    assert xyz_out.asset == "XYZ" and FLAG_UNPRICED in xyz_out.flag.split(";")
    [xyz] = result.open_lots["XYZ"]
    assert xyz.quantity == D("60") and xyz.flag == FLAG_UNPRICED


def test_a_fee_in_an_unpriced_asset_flags_the_trade_and_the_fee_disposal():
    # A buy of SOL for USD with a fee of 1 QQQ, an asset nobody prices: the fee is not $0 silently.
    rows = [entry(at(0), "deposit", "QQQ", "3"),
            trade(at(1), "SOL", "10", "-1000", fee="1", fee_asset="QQQ"),
            trade(at(2), "SOL", "-10", "1200", fee="1", fee_asset="QQQ")]
    result = match(rows)
    fee_buy, fee_sell, sale = result.disposals
    assert (fee_buy.purpose, fee_sell.purpose) == (FEE_PAYMENT, FEE_PAYMENT)
    assert all(FLAG_UNPRICED in d.flag.split(";") for d in (fee_buy, fee_sell, sale))
    assert sale.purpose == TRADE and sale.proceeds == D("1200")


def test_a_coin_fee_entry_with_no_price_is_flagged_unpriced():
    rows = [entry(at(0), "deposit", "QQQ", "3"), entry(at(1), "fee", "QQQ", "-1")]
    [d] = match(rows).disposals
    assert d.purpose == FEE_PAYMENT and FLAG_UNPRICED in d.flag.split(";")


def test_the_tax_report_flags_unpriced_rows_and_counts_them(make_account):
    account = make_account()
    ledger_import_csv(actor="test", account=account, text=HEADER + (
        "2025-03-01T09:00:00Z,deposit,paper,ABC,5,,,,,d-1\n"
        "2025-03-02T09:00:00Z,trade,paper,XYZ,100,ABC,-2,,,t-1\n"
        "2025-03-03T09:00:00Z,trade,paper,XYZ,-40,ABC,1,,,t-2\n"
        "2025-03-03T10:00:00Z,deposit,paper,USD,1000,,,,,d-2\n"
        "2025-03-04T09:00:00Z,trade,paper,SOL,1,USD,-100,,,t-3\n"
        "2025-03-05T09:00:00Z,trade,paper,SOL,-1,USD,150,,,t-4\n"))
    report = tax_report(account=account, year=2025)
    flagged = [r for r in report["disposals"] if "unpriced" in r["flag"].split(";")]
    assert {r["asset"] for r in flagged} == {"ABC", "XYZ"}
    assert report["unpriced"] == len(flagged) == 2
    assert sum(t["unpriced"] for t in report["totals_by_term"].values()) == 2
    [sol] = [r for r in report["disposals"] if r["asset"] == "SOL"]
    assert sol["flag"] == ""
    [xyz] = [p for p in positions_view(books=AccountBooks(account=account)) if p["asset"] == "XYZ"]
    assert xyz["unpriced"] is True
    out = StringIO()
    call_command("tax_report", account.user_id, "--year", "2025", stdout=out)
    assert "2 disposal(s) unpriced" in out.getvalue()
    out = StringIO()
    call_command("show_positions", account.user_id, stdout=out)
    [xyz_line] = [line for line in out.getvalue().splitlines() if line.startswith("XYZ")]
    assert xyz_line.rstrip().endswith("unpriced")
