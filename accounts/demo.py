"""Demo registry for `make run`: a MASTER and three USER accounts across the lifecycle."""

from decimal import Decimal

from .models import Account
from .services import account_onboard, account_trading_disable, account_trading_enable

DEMO_ACTOR = "system:demo"

DEMO_USERS = [
    # user_id, name, email, type, tier, tolerance, capital, trading on?
    ("daivon_frazier", "Daivon Frazier", "daivon@example.com", "retail", "investor", "MEDIUM", "5000", True),
    ("tania_gilbert", "Tania Gilbert", "tania@example.com", "investor", "income", "LOW", "25000", True),
    ("marcus_reed", "Marcus Reed", "marcus@example.com", "retail", "saver", "HIGH", "1500", False),
]


def demo_accounts_seed() -> bool:
    """Returns False when the demo registry is already there (then it changes nothing)."""
    if Account.objects.filter(kind=Account.Kind.MASTER).exists():
        return False
    master = account_onboard(
        actor=DEMO_ACTOR, user_id="nija_master", full_name="NIJA Master Trading", email="master@example.com",
        account_type="investor", tier="baller", risk_tolerance="HIGH", initial_capital=Decimal("50000"), master=True,
    )
    account_trading_enable(actor=DEMO_ACTOR, account=master, reason="demo master")
    for user_id, name, email, account_type, tier, tolerance, capital, trading in DEMO_USERS:
        account = account_onboard(
            actor=DEMO_ACTOR, user_id=user_id, full_name=name, email=email, account_type=account_type, tier=tier,
            risk_tolerance=tolerance, initial_capital=Decimal(capital),
        )
        account_trading_enable(actor=DEMO_ACTOR, account=account, reason="demo onboarding complete")
        if not trading:
            account_trading_disable(actor=DEMO_ACTOR, account=account, reason="demo: paused at the user's request")
    return True
