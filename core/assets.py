"""The money vocabulary: which asset codes are cash, which count as a US dollar, and the helpers
that read asset codes out of user input and market symbols. The engine (what is a position), the
balance audit (what is worth 1 USD without a market) and the ledger (what is never lot-tracked)
all read these sets, so they cannot disagree on what cash is.
"""

from __future__ import annotations

# The US dollar as venues spell it (Kraken prefixes fiat with Z).
USD_CODES = frozenset({"USD", "ZUSD"})

# Tokens that promise redemption 1:1 in US dollars. A venue's own market price wins where it lists one
# (the balance audit asks for it, so a de-peg shows); without one they count at par.
USD_STABLECOINS = frozenset({"USDT", "USDC", "DAI", "PYUSD", "FDUSD", "TUSD", "BUSD"})

# Worth 1 USD for valuation: the dollar and its stablecoins. The ledger never lot-tracks these (a
# stablecoin at par has no gain or loss to match) and prices everything else against them.
USD_EQUIVALENTS = USD_CODES | USD_STABLECOINS

# Fiat that is cash but not a dollar: never a position, yet valued through a market (EUR/USD), so
# it is not in USD_EQUIVALENTS.
NON_USD_FIAT = frozenset({"EUR", "GBP", "ZEUR", "ZGBP"})

# Cash: counts toward equity, never toward open positions or exposure (the copy engine's view).
CASH_ASSETS = USD_EQUIVALENTS | NON_USD_FIAT


def asset_code(value: object) -> str:
    """An asset code as we store it: trimmed, upper case ("" for nothing)."""
    return str(value or "").strip().upper()


def symbol_base(symbol: str) -> str:
    """The asset bought or sold in a market symbol: "BTC/USD" -> "BTC", "ETH/USDT:USDT" -> "ETH"."""
    return asset_code(symbol.split("/")[0])


def symbol_quote(symbol: str, *, default: str = "USD") -> str:
    """The asset a market is priced in: "BTC/USD" -> "USD", "ETH/USDT:USDT" -> "USDT"; `default`
    when the symbol names no quote (an Alpaca stock ticker)."""
    if "/" not in symbol:
        return default
    return asset_code(symbol.split("/")[1].split(":")[0])



# Venue spellings of an asset -> the code the ledger uses. Kraken names its older assets with an X
# (crypto) or Z (fiat) prefix and Bitcoin XBT (its Balance and Ledgers answers, its CSV exports:
# XXBT, XETH, ZUSD...); ccxt and most venues say BTC, ETH, USD. Comparing a ledger with a venue
# (reconcile_books) goes through `asset_canonical` on both sides, so 0.1 XXBT at Kraken is 0.1 BTC.
VENUE_ASSET_ALIASES = {
    "XBT": "BTC", "XXBT": "BTC", "XETH": "ETH", "XETC": "ETC", "XLTC": "LTC", "XXRP": "XRP", "XXLM": "XLM",
    "XXMR": "XMR", "XZEC": "ZEC", "XMLN": "MLN", "XREP": "REP", "XXDG": "DOGE", "XDG": "DOGE",
    "ZUSD": "USD", "ZEUR": "EUR", "ZGBP": "GBP", "ZCAD": "CAD", "ZJPY": "JPY", "ZAUD": "AUD", "ZCHF": "CHF",
}


def asset_canonical(value: object) -> str:
    """An asset code as the ledger spells it, whatever venue spelling it arrives in ("XXBT" -> "BTC",
    "ZUSD" -> "USD"); codes we do not know are only trimmed and upper-cased (`asset_code`)."""
    code = asset_code(value)
    return VENUE_ASSET_ALIASES.get(code, code)
