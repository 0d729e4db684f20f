"""Demo for `make run`: PAPER credentials with funded balances for the master and the demo users,
demo prices, and one balance audit so the admin and `show_user_balances` show real figures."""

from __future__ import annotations

import secrets
from decimal import Decimal

from accounts.selectors import accounts_by_user_id

from .paper_venue import paper_fund, paper_price_set
from .selectors import credentials_exist
from .services import balance_audit_run, credential_add

DEMO_ACTOR = "system:demo"
DEMO_PRICES = {"BTC/USD": "50000", "ETH/USD": "3000", "SOL/USD": "150", "BTC/USDT": "50010"}
DEMO_FUNDS = {
    "nija_master": {"USD": "50000", "BTC": "0.5"},
    "daivon_frazier": {"USD": "4000", "BTC": "0.02"},
    "tania_gilbert": {"USD": "6000", "ETH": "1.5"},
    "marcus_reed": {"USD": "1500"},
}


def demo_brokers_seed() -> bool:
    """Returns False when the demo credentials are already there (then it changes nothing)."""
    accounts = accounts_by_user_id(user_ids=DEMO_FUNDS)
    if not accounts or credentials_exist(accounts=accounts.values(), venue="paper"):
        return False
    for symbol, price in DEMO_PRICES.items():
        paper_price_set(symbol=symbol, price=price)
    for user_id, funds in DEMO_FUNDS.items():
        account = accounts.get(user_id)
        if account is None:
            continue
        # PAPER keys unlock nothing real; random ones stand in for the demo.
        credential = credential_add(
            actor=DEMO_ACTOR, account=account, venue="paper", api_key=f"paper-{secrets.token_hex(12)}",
            api_secret=secrets.token_hex(24), paper=True, reason="demo PAPER account",
        )
        for asset, amount in funds.items():
            paper_fund(credential=credential, asset=asset, amount=Decimal(amount))
    balance_audit_run(account_ids=[a.pk for a in accounts.values()])
    return True
