from accounts.selectors import account_get, account_summary
from brokers.selectors import credential_rows
from compliance.selectors import audit_events_for_target
from copytrading.selectors import copy_settings_for
from core.decimals import format_decimal, format_money
from core.management.base import NijaCommand
from operations.selectors import offboarding_for


class Command(NijaCommand):
    help = ("Show one account: registry details, risk profile, copy switch and sizing, credentials (hints only) "
            "and recent audit events.")

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        account = account_get(user_id=opts["user_id"])
        summary = account_summary(account)
        events = list(audit_events_for_target(target_type="account", target_id=account.user_id).reverse()[:10])
        copy = copy_settings_for(account=account)
        summary["copy"] = {"copy_enabled": copy.copy_enabled, "sizing_mode": copy.sizing_mode,
                           "multiplier": copy.multiplier, "fixed_notional": copy.fixed_notional}
        summary["blocked_instruments"] = (summary["risk_profile"] or {}).get("blocked_instruments", [])
        summary["credentials"] = credential_rows(account=account)
        offboarding = offboarding_for(account=account)
        summary["offboarding"] = None if offboarding is None else {
            "step": offboarding.step, "waiting_on": offboarding.waiting_on, "progress": offboarding.progress_text(),
            "reason": offboarding.reason, "started_at": offboarding.started_at, "finished_at": offboarding.finished_at,
        }
        if opts["json"]:
            summary["recent_events"] = [e.log_line() for e in events]
            self.write_json(summary)
            return
        w = self.stdout.write
        w(f"User:     {account.full_name} ({account.user_id})")
        w(f"Kind:     {account.kind}   Type: {account.account_type}   Tier: {account.tier}")
        w(f"Status:   {account.status}   Trading: {'enabled' if account.trading_enabled else 'disabled'}")
        if offboarding is not None:
            w(f"Offboarding: {offboarding.progress_text()} (reason: {offboarding.reason})")
        if account.exited_at:
            w(f"Exited:   {account.exited_at:%Y-%m-%d %H:%M} UTC ({account.exit_reason})")
        w(f"Email:    {account.email}   Phone: {account.phone or '-'}")
        w(f"Capital:  {format_money(account.initial_capital, account.initial_capital_currency)}")
        risk = summary["risk_profile"] or {}
        if risk:
            w(f"Risk:     {risk['risk_tolerance']}; max position {format_money(risk['max_position_notional'])} "
              f"or {format_decimal(risk['max_position_pct'])}% of equity; "
              f"daily loss {format_decimal(risk['max_daily_loss_pct'])}%; "
              f"slippage {format_decimal(risk['max_slippage_pct'])}%")
        w(f"Copy:     {'on' if copy.copy_enabled else 'off'}   sizing {copy.sizing_mode} "
          f"x{format_decimal(copy.multiplier)}"
          + (f" fixed {format_money(copy.fixed_notional)}" if copy.fixed_notional else ""))
        w(f"Blocked:  {', '.join(summary['blocked_instruments']) or '-'}")
        w("Credentials:" + ("" if summary["credentials"] else " none"))
        for row in summary["credentials"]:
            w(f"  {row['venue']}/{row['label']}: {'enabled' if row['enabled'] else 'disabled'} ({row['status']}) "
              f"key {row['key_hint'] or '(short key, no hint)'}{' paper' if row['paper'] else ''}"
              f"{'' if row['verified'] else ' not verified'}")
        w("Recent audit events:")
        for event in events:
            w(f"  {event.log_line()}" + (f" ({event.reason})" if event.reason else ""))
