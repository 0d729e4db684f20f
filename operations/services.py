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

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.selectors import account_by_id
from accounts.services import account_offboarding_finish, account_offboarding_start
from brokers.services import credentials_archive
from compliance.selectors import notification_get
from compliance.services import actor_name, audit_event_record, notification_queue, staff_notification_queue
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

from .checks import CHECKS, Found
from .models import ComplianceFinding, ComplianceRun, FindingKind, Offboarding
from .selectors import compliance_runs_latest, findings_current_of_kinds, findings_of_run, offboardings_unfinished

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
    period = f"offboarding-{offboarding.pk}"
    with transaction.atomic():
        # The message and the step commit together, and the message is unique per offboarding:
        # a re-run never sends a second one.
        message = (notification_queue(kind="offboarded", account=account, period=period, actor=actor,
                                      context={"lines": offboarding_summary_lines(offboarding)})
                   or notification_get(account=account, kind="offboarded", period=period))
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



# --- the daily compliance check (issue #15 §3) ---------------------------------------------------
COMPLIANCE_ACTOR = "system:compliance_check"
# Longer than the task's hard time limit (operations.tasks), so a live run keeps the lock.
COMPLIANCE_LOCK_TTL = 900


def _finding_seen(*, run: ComplianceRun, found: Found, now: dt.datetime) -> bool:
    """Record one condition: the current finding with its key moves on (facts, last seen, run),
    or a new open finding is created. Returns whether it is new."""
    current = (ComplianceFinding.objects.select_for_update()
               .filter(key=found.key).exclude(status=ComplianceFinding.Status.RESOLVED).first())
    if current is not None:
        ComplianceFinding.objects.filter(pk=current.pk).update(
            summary=found.summary, facts=found.facts, last_seen_at=now, last_run=run,
            times_seen=current.times_seen + 1)
        return False
    ComplianceFinding.objects.create(key=found.key, kind=found.kind, account_id=found.account_id,
                                     summary=found.summary, facts=found.facts, first_seen_at=now, last_seen_at=now,
                                     first_run=run, last_run=run)
    return True


def _finding_close(*, finding: ComplianceFinding, actor: Actor, note: str, now: dt.datetime) -> ComplianceFinding:
    before = finding.snapshot()
    finding.status = ComplianceFinding.Status.RESOLVED
    finding.resolved_at = now
    finding.resolved_by = actor_name(actor)[0]
    finding.resolution_note = note
    finding.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    audit_event_record(actor=actor, action="COMPLIANCE_FINDING_RESOLVE", target_type="compliance_finding",
                       target_id=str(finding.pk), reason=note, before=before, after=finding.snapshot())
    return finding


def compliance_run_execute(*, kind: str = ComplianceRun.Kind.DAILY, actor: Actor = COMPLIANCE_ACTOR,
                           now: dt.datetime | None = None,
                           progress: Callable[[str], None] | None = None) -> ComplianceRun:
    """Run every check of `kind` (daily, or the weekly review) and record what they find as a
    ComplianceRun with its findings. The same condition found again is the same finding; an open
    or acknowledged finding of a kind a check covers that the check no longer sees is resolved by
    the system (audited, naming this run). A check that fails is recorded with its error and its
    findings are left as they are (nothing is resolved because a check could not look)."""
    if kind not in ComplianceRun.Kind.values:
        raise ApplicationError(f"kind must be one of {', '.join(ComplianceRun.Kind.values)}", code="invalid")
    now = now or timezone.now()
    with task_lock(f"compliance-run-{kind}", ttl_seconds=COMPLIANCE_LOCK_TTL) as taken:
        if not taken:
            raise ApplicationError(f"a {kind} compliance run is already under way", code="busy")
        run = ComplianceRun.objects.create(kind=kind, started_at=now, triggered_by=actor_name(actor)[0])
        checks = CHECKS[kind]
        summary: dict[str, dict] = {}
        counts: dict[str, int] = {}
        seen_keys: set[str] = set()
        covered: list[str] = []
        new = 0
        for number, check in enumerate(checks, start=1):
            started = time.monotonic()
            try:
                found = check.run(now=now)
            except SoftTimeLimitExceeded:
                raise  # the task's time is up: the run stops unfinished
            except Exception as exc:  # noqa: BLE001 - one check failing must not hide the others' findings
                logger.exception("compliance check %s failed", check.name)
                summary[check.name] = {"findings": None, "error": f"{type(exc).__name__}: {exc}"[:500]}
                if progress:
                    progress(f"[{number}/{len(checks)}] {check.name}: FAILED ({type(exc).__name__})")
                continue
            with transaction.atomic():
                for item in found:
                    if item.key in seen_keys:
                        continue
                    seen_keys.add(item.key)
                    new += _finding_seen(run=run, found=item, now=now)
                    counts[item.kind] = counts.get(item.kind, 0) + 1
            covered += check.kinds
            summary[check.name] = {"findings": len(found), "error": ""}
            if progress:
                progress(f"[{number}/{len(checks)}] {check.name}: {len(found)} finding(s) "
                         f"({time.monotonic() - started:.1f} s)")
        resolved = 0
        with transaction.atomic():
            for finding in findings_current_of_kinds(kinds=covered, for_update=True):
                if finding.key not in seen_keys:
                    _finding_close(finding=finding, actor=actor, now=now,
                                   note=f"no longer found by the {kind} compliance run #{run.pk}")
                    resolved += 1
            run.findings_seen = len(seen_keys)
            run.findings_new = new
            run.findings_resolved = resolved
            run.counts = dict(sorted(counts.items()))
            run.summary = summary
            run.failed_checks = sum(1 for v in summary.values() if v["error"])
            run.open_after = ComplianceFinding.objects.exclude(status=ComplianceFinding.Status.RESOLVED).count()
            run.finished_at = timezone.now()
            run.save()
            audit_event_record(actor=actor, action="COMPLIANCE_RUN", target_type="compliance_run",
                               target_id=str(run.pk), after=compliance_run_summary(run))
            compliance_run_notify(run=run, actor=actor)
    return run


# The staff e-mail lists this many new findings; the rest are counted.
NOTIFY_FINDINGS_MAX = 20


def compliance_run_notify(*, run: ComplianceRun, actor: Actor = COMPLIANCE_ACTOR) -> None:
    """The run's summary to staff through the communication log (templates/email/compliance_run*),
    once per kind and UTC day: a second run the same day adds no second e-mail."""
    period = f"{run.kind}-{run.started_at:%Y-%m-%d}"
    context = compliance_run_notification_context(run=run, new_findings=compliance_run_new_findings(run))
    communication = staff_notification_queue(kind="compliance_run", period=period, context=context, actor=actor)
    if communication is not None:
        run.communication_ids = [*run.communication_ids, communication.pk]
        run.save(update_fields=["communication_ids"])


def compliance_run_new_findings(run: ComplianceRun) -> list[ComplianceFinding]:
    """The findings this run saw for the first time."""
    return [f for f in findings_of_run(run=run) if f.first_run_id == run.pk]


def compliance_run_notification_context(*, run: ComplianceRun, new_findings: list[ComplianceFinding]) -> dict:
    """The staff e-mail's template context for `run` (templates/email/compliance_run*). Reads only
    the objects given, so the preview page builds it for an example run that is never saved."""
    # Sorted here: PostgreSQL's jsonb gives a stored run's keys back in its own order, and the same
    # run must read the same in the e-mail it sent and in a later preview.
    return {
        "run": {**compliance_run_summary(run), "counts": dict(sorted(run.counts.items())),
                "kind_label": run.get_kind_display()},
        "failed": sorted((name, v["error"]) for name, v in run.summary.items() if v["error"]),
        "findings": [{"id": f.pk, "kind": f.kind, "account": f.account.user_id if f.account else "",
                      "summary": f.summary} for f in new_findings[:NOTIFY_FINDINGS_MAX]],
        "more": max(0, len(new_findings) - NOTIFY_FINDINGS_MAX),
        "findings_url": settings.NIJA_PORTAL_BASE_URL.rstrip("/") + reverse(
            "admin:operations_compliancefinding_changelist") + "?status__exact=open",
    }


def _example_compliance_run(account) -> tuple[ComplianceRun, list[ComplianceFinding]]:
    """A daily run and its new findings as unsaved objects (no run stored yet): illustrative figures."""
    now = timezone.now().replace(hour=1, minute=0, second=0, microsecond=0)
    run = ComplianceRun(
        id=1, kind=ComplianceRun.Kind.DAILY, started_at=now, finished_at=now + dt.timedelta(seconds=4),
        triggered_by="beat", findings_seen=3, findings_new=2, findings_resolved=1, open_after=4, failed_checks=1,
        counts={FindingKind.BALANCE_STALE: 1, FindingKind.CREDENTIAL_MISSING: 1, FindingKind.DAILY_LOSS_LIMIT: 1},
        summary={"credentials": {"findings": 1, "error": ""}, "balances": {"findings": 1, "error": ""},
                 "risk_limits": {"findings": 1, "error": ""},
                 "reconciliation_breaks": {"findings": None, "error": "OperationalError: database is locked"}})
    holder = account if account.pk else None
    findings = [
        ComplianceFinding(id=101, kind=FindingKind.DAILY_LOSS_LIMIT, account=holder,
                          summary="daily loss limit reached: loss 5.40% >= limit 5%"),
        ComplianceFinding(id=102, kind=FindingKind.BALANCE_STALE, account=holder,
                          summary="kraken/main: no balance fetch for more than 60 minutes"),
    ]
    return run, findings


def compliance_run_preview(*, account) -> tuple[dict, str]:
    """For the staff page's preview (/admin/notifications/), writing nothing: the staff e-mail's context
    for the latest stored daily run, or for an example run of unsaved objects, and which of the two."""
    run = compliance_runs_latest()[ComplianceRun.Kind.DAILY]
    if run is not None:
        context = compliance_run_notification_context(run=run, new_findings=compliance_run_new_findings(run))
        return context, f"the latest daily compliance run (#{run.pk} of {run.started_at:%Y-%m-%d %H:%M} UTC)"
    run, findings = _example_compliance_run(account)
    return compliance_run_notification_context(run=run, new_findings=findings), (
        "an example run (no daily compliance run is stored yet)")


def compliance_run_summary(run: ComplianceRun) -> dict:
    """The run in the shape `daily_user_check --json` prints and the staff e-mail shows."""
    return {
        "run": run.pk, "kind": run.kind, "started_at": run.started_at, "finished_at": run.finished_at,
        "findings_seen": run.findings_seen, "findings_new": run.findings_new,
        "findings_resolved": run.findings_resolved, "open_after": run.open_after, "counts": run.counts,
        "checks": run.summary, "failed_checks": run.failed_checks,
    }


def compliance_finding_acknowledge(*, actor: Actor, finding: ComplianceFinding, reason: str) -> ComplianceFinding:
    """Staff saw the finding and say what they do about it (the note). It stays listed, and the
    check keeps updating it, until it is resolved."""
    note = reason_required(reason, "acknowledge a compliance finding")
    with transaction.atomic():
        finding = ComplianceFinding.objects.select_for_update().get(pk=finding.pk)
        if finding.status != ComplianceFinding.Status.OPEN:
            raise ApplicationError(f"finding #{finding.pk} is {finding.status}, not open", code="invalid_transition")
        before = finding.snapshot()
        finding.status = ComplianceFinding.Status.ACKNOWLEDGED
        finding.acknowledged_at = timezone.now()
        finding.acknowledged_by = actor_name(actor)[0]
        finding.acknowledged_note = note
        finding.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledged_note"])
        audit_event_record(actor=actor, action="COMPLIANCE_FINDING_ACKNOWLEDGE", target_type="compliance_finding",
                           target_id=str(finding.pk), reason=note, before=before, after=finding.snapshot())
    return finding


def compliance_finding_resolve(*, actor: Actor, finding: ComplianceFinding, reason: str) -> ComplianceFinding:
    """Staff close the finding (dealt with). If the check still finds the condition, the next run
    opens a new finding for it."""
    note = reason_required(reason, "resolve a compliance finding")
    with transaction.atomic():
        finding = ComplianceFinding.objects.select_for_update().get(pk=finding.pk)
        if finding.status == ComplianceFinding.Status.RESOLVED:
            raise ApplicationError(f"finding #{finding.pk} is already resolved", code="invalid_transition")
        return _finding_close(finding=finding, actor=actor, note=note, now=timezone.now())
