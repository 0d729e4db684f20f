from accounts.selectors import account_get, account_summary
from compliance.selectors import audit_events_for_target
from core.decimals import format_decimal, format_money
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Show one account: registry details, risk profile and recent audit events."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        summary = account_summary(account)
        events = list(audit_events_for_target(target_type="account", target_id=account.user_id).reverse()[:10])
        if opts["json"]:
            summary["recent_events"] = [e.log_line() for e in events]
            self.write_json(summary)
            return
        w = self.stdout.write
        w(f"User:     {account.full_name} ({account.user_id})")
        w(f"Kind:     {account.kind}   Type: {account.account_type}   Tier: {account.tier}")
        w(f"Status:   {account.status}   Trading: {'enabled' if account.trading_enabled else 'disabled'}")
        w(f"Email:    {account.email}   Phone: {account.phone or '-'}")
        w(f"Capital:  {format_money(account.initial_capital, account.initial_capital_currency)}")
        risk = summary["risk_profile"] or {}
        if risk:
            w(f"Risk:     {risk['risk_tolerance']}; max position {format_money(risk['max_position_notional'])} "
              f"or {format_decimal(risk['max_position_pct'])}% of equity; "
              f"daily loss {format_decimal(risk['max_daily_loss_pct'])}%; "
              f"slippage {format_decimal(risk['max_slippage_pct'])}%")
        w("Recent audit events:")
        for event in events:
            w(f"  {event.log_line()}" + (f" ({event.reason})" if event.reason else ""))
