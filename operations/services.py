"""Offboarding (issue #15 §1, DESIGN.md §4.5): a resumable state machine over the other apps'
services. Each step is idempotent and is recorded (step moved + audit event) once done, so running
it again, from the command or the beat task, continues where it stopped; killing it at any point
and running it again closes every position exactly once (the copy engine's claim and lookup)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.selectors import account_by_id
from accounts.services import account_offboarding_finish, account_offboarding_start
from brokers.services import credentials_archive
from compliance.services import audit_event_record, communication_record
from copytrading.closing import (
    DONE_STATUSES,
    OPEN_STATUSES,
    CloseState,
    positions_close_execute,
    positions_close_plan,
    positions_close_state,
)
from copytrading.reconciliation import copy_orders_reconcile
from copytrading.selectors import copy_settings_for
from copytrading.services import copy_settings_update
from core.actors import Actor, reason_required
from core.decimals import format_money, to_jsonable
from core.errors import ApplicationError
from core.locks import task_lock
from reporting.services import final_report_generate

from .models import Offboarding
from .selectors import offboardings_unfinished

if TYPE_CHECKING:
    from accounts.models import Account

logger = logging.getLogger("nija.operations")
Step = Offboarding.Step
STEP_ORDER = [s.value for s in Step]
# Longer than a run of the command or task (bounded by `wait_seconds`), so a live run keeps it.
OFFBOARDING_LOCK_TTL = 600


def _key(offboarding: Offboarding) -> str:
    return str(offboarding.pk)


def _token(offboarding: Offboarding) -> str:
    """The claim token of its close orders: a re-run after a kill recognises the orders the dead
    run claimed and looks them up at the venue before anything is sent again."""
    return f"offboard-{offboarding.pk}"


def offboarding_start(*, actor: Actor, account: Account, reason: str, keep_positions: bool = False,
                      confirm: bool = False) -> Offboarding:
    """Record the offboarding and take the first step (trading off, OFFBOARDING). Starting an
    offboarding already under way returns it (the reason and options of the first start stay)."""
    reason = reason_required(reason, "offboard an account")
    existing = Offboarding.objects.filter(account=account).first()
    if existing is not None:
        return existing
    if account.is_master:
        raise ApplicationError(f"{account.user_id} is the MASTER account: it cannot be offboarded",
                               code="invalid_transition")
    if account.status == AccountStatus.INACTIVE:
        raise ApplicationError(f"{account.user_id} is already INACTIVE", code="invalid_transition")
    if not confirm:
        raise ApplicationError(
            f"offboarding {account.user_id} stops its trading, "
            + ("keeps its positions" if keep_positions else "closes every position with market orders")
            + ", archives its credentials and makes it INACTIVE: confirm explicitly (--confirm)",
            code="confirmation_required")
    with transaction.atomic():
        offboarding = Offboarding.objects.create(account=account, reason=reason, keep_positions=keep_positions,
                                                 requested_by=_actor_text(actor))
        audit_event_record(actor=actor, action="OFFBOARDING_START", target_type="account",
                           target_id=account.user_id, reason=reason,
                           after={"keep_positions": keep_positions, "offboarding": offboarding.pk})
        account_offboarding_start(actor=actor, account=account, reason=reason)
    return offboarding


def offboarding_keep_positions(*, actor: Actor, offboarding: Offboarding) -> Offboarding:
    """Staff decide the investor takes the assets in kind: positions not yet sold stay. Only
    before the positions step is done (later there is nothing left to keep)."""
    if offboarding.keep_positions:
        return offboarding
    if STEP_ORDER.index(offboarding.step) > STEP_ORDER.index(Step.POSITIONS_CLOSE):
        raise ApplicationError("the positions are already closed; --keep-positions no longer applies",
                               code="invalid_transition")
    with transaction.atomic():
        offboarding.keep_positions = True
        offboarding.save(update_fields=["keep_positions", "updated_at"])
        audit_event_record(actor=actor, action="OFFBOARDING_KEEP_POSITIONS", target_type="account",
                           target_id=offboarding.account.user_id, reason=offboarding.reason,
                           before={"keep_positions": False}, after={"keep_positions": True})
    return offboarding


def _actor_text(actor: Actor) -> str:
    if actor is None:
        return "system"
    return actor if isinstance(actor, str) else actor.get_username()


def _step_done(*, actor: Actor, offboarding: Offboarding, details: dict | None = None, **fields) -> None:
    """Move past the current step, with its audit event, in one transaction."""
    done = offboarding.step
    offboarding.step = STEP_ORDER[STEP_ORDER.index(done) + 1]
    offboarding.waiting_on = ""
    for name, value in fields.items():
        setattr(offboarding, name, value)
    if offboarding.step == Step.DONE:
        offboarding.finished_at = timezone.now()
    with transaction.atomic():
        offboarding.save()
        audit_event_record(actor=actor, action="OFFBOARDING_STEP", target_type="account",
                           target_id=offboarding.account.user_id, reason=offboarding.reason,
                           before={"step": done}, after={"step": offboarding.step, **(details or {})})


def _wait(offboarding: Offboarding, why: str) -> str:
    if offboarding.waiting_on != why:
        offboarding.waiting_on = why[:500]
        offboarding.save(update_fields=["waiting_on", "updated_at"])
    return why


def _close_rows(state: CloseState) -> list[dict]:
    rows = [{"symbol": o.symbol, "venue": o.venue, "quantity": o.quantity, "status": o.status,
             "filled": o.filled_quantity, "average_price": o.average_price, "client_order_id": o.client_order_id}
            for o in state.orders]
    return to_jsonable(rows + [{"left": True, **item} for item in state.left])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- steps: each returns "" when done, else what it waits on ------------------------------------
def _trading_stop(actor: Actor, offboarding: Offboarding, **_) -> str:
    account = offboarding.account
    if account.status != AccountStatus.OFFBOARDING:  # started before this step existed, or by hand
        account_offboarding_start(actor=actor, account=account, reason=offboarding.reason)
    if copy_settings_for(account=account).copy_enabled:
        copy_settings_update(actor=actor, account=account, reason=f"offboarding: {offboarding.reason}",
                             copy_enabled=False)
    _step_done(actor=actor, offboarding=offboarding, details={"trading_enabled": False, "copy_enabled": False})
    return ""


def _positions_close(actor: Actor, offboarding: Offboarding, **_) -> str:
    if offboarding.keep_positions:
        _step_done(actor=actor, offboarding=offboarding, details={"positions": "kept (taken in kind)"})
        return ""
    state = positions_close_plan(account=offboarding.account, key=_key(offboarding))
    positions_close_execute(orders=state.orders, token=_token(offboarding))
    offboarding.closes = _close_rows(state)
    offboarding.save(update_fields=["closes", "updated_at"])
    if state.blocked:
        return _wait(offboarding, "blocked: " + "; ".join(state.blocked))
    if state.waiting:
        return _wait(offboarding, "waiting for " + "; ".join(state.waiting))
    refused = [o for o in state.orders if o.status not in OPEN_STATUSES + DONE_STATUSES]
    if refused:  # the next run plans another attempt (at most MAX_CLOSE_ATTEMPTS)
        return _wait(offboarding, "a new attempt for " + "; ".join(
            f"{o.symbol} ({o.status}: {o.detail[:120]})" for o in refused))
    if state.open_orders:
        return _wait(offboarding, f"waiting for {_plural(len(state.open_orders), 'close order')} at the venue")
    _step_done(actor=actor, offboarding=offboarding,
               details={"closes": [f"{o.symbol} {o.quantity} {o.status}" for o in state.orders]})
    return ""


def _fills_reconcile(actor: Actor, offboarding: Offboarding, *, reconcile: bool = True, **_) -> str:
    state = positions_close_state(account=offboarding.account, key=_key(offboarding))
    if reconcile and any(_awaits_fills(o) for o in state.orders):
        copy_orders_reconcile()  # the engine's own reconciliation fetches the fills by client order id
        state = positions_close_state(account=offboarding.account, key=_key(offboarding))
    pending = [o for o in state.orders if _awaits_fills(o)]
    if pending:
        return _wait(offboarding, f"waiting for {_plural(len(pending), 'fill')}")
    offboarding.closes = _close_rows(state) + [row for row in offboarding.closes if row.get("left")]
    _step_done(actor=actor, offboarding=offboarding, closes=offboarding.closes)
    return ""


def _awaits_fills(order) -> bool:
    if order.status in ("PLANNED", "SUBMITTING", "OPEN"):
        return True
    return order.status in ("FILLED", "PARTIALLY_FILLED") and not order.fills_synced


def _final_report(actor: Actor, offboarding: Offboarding, **_) -> str:
    exit_day = timezone.now().astimezone(dt.UTC).date()
    report = final_report_generate(account=offboarding.account, exit_day=exit_day)
    data = report.data
    summary = {
        "user_id": offboarding.account.user_id, "name": offboarding.account.full_name,
        "exit_date": exit_day.isoformat(), "reason": offboarding.reason, "currency": "USD",
        "total_pnl": data.get("total_pnl"), "final_nav": data.get("final_nav"),
        "fees_charged": data["fees"]["total"], "fees_by_kind": data["fees"]["by_kind"],
        "positions": "kept (taken in kind)" if offboarding.keep_positions else "closed",
        "closes": offboarding.closes, "report_id": report.pk,
    }
    _step_done(actor=actor, offboarding=offboarding, report_id=report.pk, summary=to_jsonable(summary),
               details={"report_id": report.pk})
    return ""


def _credentials_archive(actor: Actor, offboarding: Offboarding, **_) -> str:
    archived = credentials_archive(actor=actor, account=offboarding.account,
                                   reason=f"offboarding: {offboarding.reason}")
    _step_done(actor=actor, offboarding=offboarding, details={"credentials_archived": len(archived)})
    return ""


def _deactivate(actor: Actor, offboarding: Offboarding, **_) -> str:
    account = offboarding.account
    if account.status != AccountStatus.INACTIVE:
        account_offboarding_finish(actor=actor, account=account, reason=offboarding.reason,
                                   exited_at=timezone.now())
    _step_done(actor=actor, offboarding=offboarding)
    return ""


def _notify(actor: Actor, offboarding: Offboarding, **_) -> str:
    account = account_by_id(account_id=offboarding.account_id)
    with transaction.atomic():
        # The message and the step commit together: a re-run never sends a second one.
        message = communication_record(
            actor=actor, account=account, kind="offboarded", channel="email",
            subject="Your NIJA account is closed",
            body=render_to_string("email/offboarded.txt", {"account": account,
                                                            "lines": offboarding_summary_lines(offboarding)}),
        )
        _step_done(actor=actor, offboarding=offboarding, communication_id=message.pk,
                   details={"communication": message.pk})
    return ""


STEPS: dict[str, Callable[..., str]] = {
    Step.TRADING_STOP: _trading_stop, Step.POSITIONS_CLOSE: _positions_close,
    Step.FILLS_RECONCILE: _fills_reconcile, Step.FINAL_REPORT: _final_report,
    Step.CREDENTIALS_ARCHIVE: _credentials_archive, Step.DEACTIVATE: _deactivate, Step.NOTIFY: _notify,
}


def offboarding_advance(*, actor: Actor, offboarding: Offboarding, wait_seconds: float = 0,
                        poll_seconds: float = 2.0, reconcile: bool = True,
                        progress: Callable[[Offboarding], None] | None = None) -> Offboarding:
    """Run steps until done or one waits; with `wait_seconds`, keep trying the waiting step that
    long. One run at a time per offboarding (a lock); a second one returns at once, changing nothing."""
    with task_lock(f"offboarding-{offboarding.pk}", ttl_seconds=OFFBOARDING_LOCK_TTL) as taken:
        if not taken:
            raise ApplicationError(f"the offboarding of {offboarding.account.user_id} is being run by another "
                                   "process; try again when it has finished", code="busy")
        deadline = time.monotonic() + wait_seconds
        offboarding.refresh_from_db()
        while not offboarding.is_done:
            waiting = STEPS[offboarding.step](actor, offboarding, reconcile=reconcile)
            if progress:
                progress(offboarding)
            if waiting:
                if time.monotonic() + poll_seconds > deadline:
                    break
                time.sleep(poll_seconds)
    logger.info("offboarding of %s: %s", offboarding.account.user_id, offboarding.progress_text())
    return offboarding


def offboardings_advance(*, actor: Actor = "system:offboarding", limit: int = 50) -> dict:
    """Beat: move every unfinished offboarding on (each one's failure is logged, the others go on)."""
    result = {"advanced": 0, "done": 0, "errors": []}
    for offboarding in offboardings_unfinished()[:limit]:
        try:
            offboarding_advance(actor=actor, offboarding=offboarding)
            result["advanced"] += 1
            result["done"] += offboarding.is_done
        except ApplicationError as exc:
            result["errors"].append(f"{offboarding.account.user_id}: {exc}")
    return result


def offboarding_summary_lines(offboarding: Offboarding) -> list[str]:
    """The summary as printed, stored and mailed (exit date, reason, total P&L, final NAV, fees)."""
    s = offboarding.summary or {}
    if not s:
        return [f"Offboarding of {offboarding.account.user_id}: {offboarding.progress_text()}"]
    lines = [
        f"Account: {s['name']} ({s['user_id']})",
        f"Exit date: {s['exit_date']}",
        f"Reason: {s['reason']}",
        f"Total P&L: {_money(s.get('total_pnl'))}",
        f"Final NAV: {_money(s.get('final_nav'))}",
        f"Fees charged: {_money(s.get('fees_charged'))}",
        f"Positions: {s['positions']}",
    ]
    for row in s.get("closes") or []:
        if row.get("left"):
            lines.append(f"  left: {row['quantity']} {row['asset']} on {row['venue']} ({row['why']})")
        else:
            lines.append(f"  sold {row.get('filled') or row['quantity']} {row['symbol']} on {row['venue']}: "
                         f"{row['status']}")
    return lines


def _money(value) -> str:
    """Stored summaries hold amounts as strings (JSON); shown to the cent, "n/a" when undefined."""
    return "n/a" if value is None else format_money(Decimal(str(value)))
