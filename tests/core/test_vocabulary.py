"""The one money vocabulary (core.assets), the actor's reason check and the day parser used by
commands, the API and the portal."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from core.actors import reason_required
from core.assets import (
    CASH_ASSETS,
    NON_USD_FIAT,
    USD_CODES,
    USD_EQUIVALENTS,
    USD_STABLECOINS,
    asset_code,
    symbol_base,
    symbol_quote,
)
from core.dates import day_parse
from core.errors import ApplicationError
from reporting.lots import PriceBook


def test_every_dollar_equivalent_is_cash_and_no_other_fiat_counts_as_a_dollar():
    assert USD_EQUIVALENTS == USD_CODES | USD_STABLECOINS
    assert USD_EQUIVALENTS < CASH_ASSETS
    assert not NON_USD_FIAT & USD_EQUIVALENTS
    assert {"EUR", "ZEUR"} <= CASH_ASSETS


def test_the_ledger_values_every_dollar_equivalent_at_one_and_prices_euros():
    book = PriceBook()
    when = dt.datetime(2026, 1, 8, tzinfo=dt.UTC)
    assert {code: book.at(code, when) for code in USD_EQUIVALENTS} == {code: Decimal("1") for code in USD_EQUIVALENTS}
    assert book.at("EUR", when) is None  # no EUR/USD price known: not silently 1


def test_asset_codes_and_symbols():
    assert asset_code("  usdt ") == "USDT"
    assert asset_code(None) == ""
    assert symbol_base("btc/usd") == "BTC"
    assert symbol_quote("ETH/USDT:USDT") == "USDT"
    assert symbol_quote("AAPL") == "USD"


def test_reason_required_trims_and_refuses_blank():
    assert reason_required("  customer asked  ", "suspend an account") == "customer asked"
    for blank in ("", "   ", None):
        with pytest.raises(ApplicationError, match="a reason is required to suspend an account") as info:
            reason_required(blank, "suspend an account")
        assert info.value.code == "reason_required"


def test_day_parse_reads_a_day_or_names_the_bad_input():
    assert day_parse("2026-02-28", name="--date") == dt.date(2026, 2, 28)
    assert day_parse("", name="--date", default=dt.date(2026, 1, 1)) == dt.date(2026, 1, 1)
    with pytest.raises(ApplicationError, match="--date '08/01/2026' is not YYYY-MM-DD"):
        day_parse("08/01/2026", name="--date")
    with pytest.raises(ApplicationError, match="--date '2026-02-30' is not a day in the calendar"):
        day_parse("2026-02-30", name="--date")
    with pytest.raises(ApplicationError, match="--from is required"):
        day_parse(None, name="--from")


@pytest.mark.django_db
@pytest.mark.parametrize("command", [
    ["generate_reports", "--period", "daily", "--date", "2026-02-30"],
    ["fee_report", "nobody", "--from", "2026-02-30"],
    ["fee_statement", "nobody", "--from", "2026-13-01"],
    ["track_user_performance", "nobody", "--period", "daily", "--date", "2026-04-31"],
])
def test_commands_give_one_clear_error_for_an_impossible_day(command):
    with pytest.raises(CommandError, match="is not a day in the calendar"):
        call_command(*command, stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_api_answers_an_impossible_day_with_a_400_that_names_it(client, make_account):
    user = User.objects.create_user("daivon", password="pw")
    account = make_account("daivon_frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    client.force_login(user)
    response = client.get("/api/v1/accounts/me/performance?period=daily&date=2026-02-30")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "2026-02-30" in response.json()["error"]["message"]
