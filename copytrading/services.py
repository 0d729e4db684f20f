"""Writes of the copy engine: engine mode, copy settings, signal intake. Planning, execution and
reconciliation live in planning.py / execution.py / reconciliation.py and are re-exported here."""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from compliance.services import audit_event_record
from core.actors import Actor, reason_required
from core.decimals import decimal_for_field, to_decimal
from core.enqueue import task_enqueue
from core.errors import ApplicationError

from .models import CopySettings, EngineMode, MasterSignal
from .planning import signal_plan

if TYPE_CHECKING:
    from accounts.models import Account

logger = logging.getLogger("nija.copytrading")
ENGINE_MODE_PERMISSION = "copytrading.change_engine_mode"


def _require_permission(actor: Actor) -> None:
    """Web users need the operator permission; shell actors ("cli:...") already run as operators."""
    if isinstance(actor, AbstractBaseUser) and not actor.has_perm(ENGINE_MODE_PERMISSION):
        raise ApplicationError("changing the copy engine needs the operator permission", code="permission_denied")


# --- engine mode ----------------------------------------------------------------------------
def engine_mode_set(*, actor: Actor, mode: str, reason: str, confirm_live: bool = False) -> EngineMode:
    """Set the global mode. LIVE needs the operator permission and an explicit confirmation."""
    mode = (mode or "").strip().upper()
    if mode not in EngineMode.Mode.values:
        raise ApplicationError(f"mode must be one of {', '.join(m.lower() for m in EngineMode.Mode.values)}")
    reason = reason_required(reason, "change the engine mode")
    _require_permission(actor)
    if mode == EngineMode.Mode.LIVE and not confirm_live:
        raise ApplicationError("going LIVE sends real orders: confirm explicitly (--confirm-live)",
                               code="confirmation_required")
    with transaction.atomic():
        EngineMode.objects.get_or_create(id=1)
        current = EngineMode.objects.select_for_update().get(id=1)
        before = {"mode": current.mode}
        current.mode = mode
        current.reason = reason
        current.changed_by = actor if isinstance(actor, str) else (actor.get_username() if actor else "system")
        current.changed_at = timezone.now()
        current.save()
        audit_event_record(actor=actor, action="COPY_ENGINE_MODE_SET", target_type="engine", target_id="copy",
                           reason=reason, before=before, after={"mode": mode})
    return current


def copy_settings_update(
    *, actor: Actor, account: Account, reason: str, copy_enabled: bool | None = None,
    sizing_mode: str | None = None, multiplier: Decimal | str | None = None,
    fixed_notional: Decimal | str | None = None,
) -> CopySettings:
    """Change an account's copy switch or sizing; validated first, then one audited write."""
    reason = reason_required(reason, "change copy settings")
    _require_permission(actor)
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if copy_enabled is not None:
        changes["copy_enabled"] = bool(copy_enabled)
    if sizing_mode is not None:
        if sizing_mode not in CopySettings.SizingMode.values:
            errors["sizing_mode"] = f"sizing mode must be one of {', '.join(CopySettings.SizingMode.values)}"
        changes["sizing_mode"] = sizing_mode
    for name, raw in (("multiplier", multiplier), ("fixed_notional", fixed_notional)):
        if raw is None or raw == "":
            continue
        try:
            value = to_decimal(raw, field=name)
        except ApplicationError as exc:
            errors[name] = str(exc)
            continue
        if value <= 0:
            errors[name] = f"{name} must be positive, got {value}"
        changes[name] = value
    with transaction.atomic():
        current, _ = CopySettings.objects.select_for_update().get_or_create(account=account)
        before = current.snapshot()
        merged = {**before, **changes}
        if merged["sizing_mode"] == CopySettings.SizingMode.FIXED_NOTIONAL and not merged["fixed_notional"]:
            errors["fixed_notional"] = "fixed_notional sizing needs a fixed_notional amount (USD)"
        if errors:
            raise ApplicationError("invalid copy settings: " + "; ".join(errors[k] for k in sorted(errors)),
                                   extra={"fields": errors})
        for name, value in changes.items():
            setattr(current, name, value)
        current.reason = reason
        current.save()
        audit_event_record(actor=actor, action="COPY_SETTINGS_UPDATE", target_type="account",
                           target_id=account.user_id, reason=reason, before=before, after=current.snapshot())
    return current


def copy_mode_set(*, actor: Actor, mode: str, reason: str, account: Account | None = None,
                  confirm_live: bool = False) -> EngineMode | CopySettings:
    """`set_copy_mode`: without an account it sets the global mode; with one, `off` switches the
    account's copying off and `observe`/`live` switch it back on (the global mode still rules)."""
    if account is None:
        return engine_mode_set(actor=actor, mode=mode, reason=reason, confirm_live=confirm_live)
    mode = (mode or "").strip().upper()
    if mode not in EngineMode.Mode.values:
        raise ApplicationError(f"mode must be one of {', '.join(m.lower() for m in EngineMode.Mode.values)}")
    if mode == EngineMode.Mode.LIVE and not confirm_live:
        raise ApplicationError("switching an account to LIVE copying needs --confirm-live",
                               code="confirmation_required")
    return copy_settings_update(actor=actor, account=account, reason=reason, copy_enabled=mode != "OFF")


# --- signal intake ----------------------------------------------------------------------------
SIGNAL_FIELDS = ("source_id", "venue", "symbol", "side", "amount", "price", "order_type", "master_order_id",
                 "executed_at", "exit_fraction")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}(:[A-Z0-9]{1,15})?$")
_VENUE_RE = re.compile(r"^[a-z0-9_.-]{2,32}$")
_SOURCE_ID_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")


EARLIEST_SIGNAL_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _executed_at_problem(executed: dt.datetime) -> str:
    """'' for a plausible execution time, else what is wrong with it (year 1 and 9999 included)."""
    try:
        utc = executed.astimezone(dt.UTC)
        latest = timezone.now() + dt.timedelta(seconds=settings.NIJA_SIGNAL_CLOCK_TOLERANCE_SECONDS)
    except (OverflowError, ValueError):
        return "outside the supported range of dates"
    if utc < EARLIEST_SIGNAL_TIME:
        return f"before {EARLIEST_SIGNAL_TIME:%Y-%m-%d}: not a real execution time"
    if utc > latest:
        return (f"in the future (more than {settings.NIJA_SIGNAL_CLOCK_TOLERANCE_SECONDS} s ahead of the server "
                f"clock): check the sender's clock")
    return ""


def json_contains_nul(value: Any) -> bool:
    """True if any string (key or value) in a parsed JSON document holds a NUL character, which
    PostgreSQL cannot store in jsonb. Iterative, so a deeply nested body cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def signal_expiry_reason(*, executed_at: dt.datetime, received_at: dt.datetime) -> str:
    """Why a signal is too old to copy ('' when it is fresh enough)."""
    age = (received_at - executed_at).total_seconds()
    limit = settings.NIJA_SIGNAL_MAX_AGE_SECONDS
    if age > limit:
        return f"received {int(age)} s after execution; signals older than {limit} s are not copied"
    return ""


def signal_fields_clean(data: Any) -> dict[str, Any]:
    """Validate a signal body; raise one ApplicationError with an error per field."""
    if not isinstance(data, dict):
        raise ApplicationError("the body must be a JSON object",
                               extra={"fields": {"non_field_errors": "not an object"}})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}

    def text(name: str, *, required: bool = True) -> str:
        value = data.get(name)
        if value is None or value == "":
            if required:
                errors[name] = "this field is required"
            return ""
        if not isinstance(value, str):
            errors[name] = "must be a string"
            return ""
        if "\x00" in value:
            errors[name] = "must not contain NUL characters"
            return ""
        return value.strip()

    source_id = text("source_id")
    if source_id and not _SOURCE_ID_RE.match(source_id):
        errors["source_id"] = "letters, digits and _ . : / - only, at most 128 characters"
    clean["source_id"] = source_id
    venue = text("venue").lower()
    if venue and not _VENUE_RE.match(venue):
        errors["venue"] = "not a venue id"
    clean["venue"] = venue
    symbol = text("symbol").upper()
    if symbol and not _SYMBOL_RE.match(symbol):
        errors["symbol"] = "use the unified form BASE/QUOTE, e.g. BTC/USD"
    clean["symbol"] = symbol
    for name in ("venue", "symbol"):  # the patterns bound the characters, the column bounds the length
        limit = MasterSignal._meta.get_field(name).max_length
        if len(clean[name]) > limit and name not in errors:
            errors[name] = f"at most {limit} characters"
    side = text("side").lower()
    if side and side not in MasterSignal.Side.values:
        errors["side"] = "must be buy or sell"
    clean["side"] = side
    for name in ("amount", "price"):
        raw = text(name)
        if raw:
            try:
                value = to_decimal(raw, field=name)
                if value <= 0:
                    errors[name] = "must be positive"
                else:
                    # the value the database will hold: too many digits or rounding to 0 is refused
                    value = decimal_for_field(value, model_field=MasterSignal._meta.get_field(name))
                clean[name] = value
            except ApplicationError as exc:
                errors[name] = str(exc)
    order_type = text("order_type", required=False).lower() or "market"
    if order_type not in MasterSignal.OrderType.values:
        errors["order_type"] = "must be market or limit"
    clean["order_type"] = order_type
    master_order_id = text("master_order_id", required=False)
    if len(master_order_id) > 128:
        errors["master_order_id"] = "at most 128 characters"
    clean["master_order_id"] = master_order_id
    executed_raw = text("executed_at")
    if executed_raw:
        try:
            executed = parse_datetime(executed_raw)
        except ValueError:
            executed = None
        if executed is None:
            errors["executed_at"] = "must be an ISO 8601 date-time, e.g. 2026-11-20T10:00:00Z"
        elif timezone.is_naive(executed):
            errors["executed_at"] = "must carry a time zone (e.g. Z for UTC)"
        elif problem := _executed_at_problem(executed):
            errors["executed_at"] = problem
        else:
            clean["executed_at"] = executed.astimezone(dt.UTC)
    fraction_raw = text("exit_fraction", required=False)
    clean["exit_fraction"] = None
    if fraction_raw:
        try:
            fraction = to_decimal(fraction_raw, field="exit_fraction")
            if not (Decimal("0") < fraction <= Decimal("1")):
                errors["exit_fraction"] = "must be in (0, 1]"
            elif side == "buy":
                errors["exit_fraction"] = "only a sell reduces a position"
            else:
                fraction = decimal_for_field(fraction, model_field=MasterSignal._meta.get_field("exit_fraction"))
            clean["exit_fraction"] = fraction
        except ApplicationError as exc:
            errors["exit_fraction"] = str(exc)
    if errors:
        raise ApplicationError("invalid signal: " + "; ".join(f"{k}: {errors[k]}" for k in sorted(errors)),
                               extra={"fields": errors})
    return clean


def signal_receive(*, source: str, data: Any, raw_payload: Any = None, plan: bool = True) -> tuple[MasterSignal, bool]:
    """Store a master signal once per (source, source_id) and, with `plan`, plan its copies here.

    Returns (signal, created). A replay of a known source id returns the stored signal and
    changes nothing. Invalid data raises ApplicationError before anything is written. A signal
    older than NIJA_SIGNAL_MAX_AGE_SECONDS is stored EXPIRED with its reason and never planned.
    The webhook passes plan=False and queues the planning (`signal_plan_enqueue`) instead."""
    if source not in MasterSignal.Source.values:
        raise ApplicationError(f"unknown signal source '{source}'")
    clean = signal_fields_clean(data)
    payload = raw_payload if raw_payload is not None else data
    if json_contains_nul(payload):
        raise ApplicationError("invalid signal: the body must not contain NUL characters",
                               extra={"fields": {"non_field_errors": "NUL character in the body"}})
    existing = MasterSignal.objects.filter(source=source, source_id=clean["source_id"]).first()
    if existing:
        return existing, False
    received_at = timezone.now()
    expired = signal_expiry_reason(executed_at=clean["executed_at"], received_at=received_at)
    try:
        with transaction.atomic():
            signal = MasterSignal.objects.create(
                source=source, raw_payload=payload, received_at=received_at,
                exit_fraction_source="sender" if clean["exit_fraction"] is not None else "",
                mode=EngineMode.current().mode, status_reason=expired,
                status=MasterSignal.Status.EXPIRED if expired else MasterSignal.Status.RECEIVED, **clean,
            )
    except IntegrityError:
        # A concurrent delivery of the same signal won the insert: this one is the replay.
        existing = MasterSignal.objects.filter(source=source, source_id=clean["source_id"]).first()
        if existing is None:
            raise
        return existing, False
    if expired:
        logger.warning("signal #%s expired: %s", signal.pk, expired)
        return signal, True
    if plan:
        # Planning reads venues (markets, prices) outside any transaction and writes its plan in
        # one; a crash in between leaves the signal RECEIVED and the pending-signal sweep plans it.
        try:
            signal_plan(signal=signal)
        except Exception:
            # Stored means accepted: the sender must not resend. The signal stays RECEIVED and
            # the sweep plans it again; the failure is in the log with its traceback.
            logger.exception("planning signal #%s failed; the pending-signal sweep will retry it", signal.pk)
        signal.refresh_from_db()
    return signal, True


def signal_plan_enqueue(signal: MasterSignal) -> bool:
    """Queue the planning of a stored RECEIVED signal. False when the task broker cannot take it;
    the signal stays RECEIVED and the sweep plans it."""
    try:
        task_enqueue("copytrading.tasks.signal_plan_task", args=[signal.pk], retry=False)
    except Exception as exc:  # the broker's many connection errors: the signal is safe in the database
        logger.warning("could not queue planning of signal #%s (%s); the sweep will plan it", signal.pk,
                       type(exc).__name__)
        return False
    return True
