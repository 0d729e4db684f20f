"""Admin of the copy engine. State changes (mode, copy switch, sizing) go through the services with
a reason and an audit event; signals, copy orders and fills are read-only records."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyModelAdmin
from core.admin_actions import reason_action
from core.decimals import format_decimal
from core.errors import ApplicationError
from security.services import password_reconfirm

from .models import CopyFill, CopyOrder, CopySettings, EngineMode, MasterSignal, MissedTrade
from .selectors import MISSED_STATUSES, signal_counts
from .services import copy_settings_update, engine_mode_set


def _mode_service(mode: str, confirm: bool = False):
    def service(*, actor, reason, engine):
        return engine_mode_set(actor=actor, mode=mode, reason=reason, confirm_live=confirm)
    return service


@admin.register(EngineMode)
class EngineModeAdmin(ReadOnlyModelAdmin):
    list_display = ("mode", "changed_by", "changed_at", "reason")
    actions = [
        reason_action(name="mode_observe", description="Set mode OBSERVE (plan and log, send nothing)",
                      service=_mode_service("OBSERVE"), permission="engine_mode",
                      service_kwargs=lambda obj: {"engine": obj}),
        reason_action(name="mode_off", description="Set mode OFF (store signals only)",
                      service=_mode_service("OFF"), permission="engine_mode",
                      service_kwargs=lambda obj: {"engine": obj}),
        # The intermediate page with its reason and Confirm button is the explicit confirmation.
        reason_action(name="mode_live", description="Go LIVE - SEND REAL ORDERS to the venues (confirm)",
                      service=_mode_service("LIVE", confirm=True), permission="engine_mode",
                      password_check=password_reconfirm,
                      service_kwargs=lambda obj: {"engine": obj}),
    ]

    def get_queryset(self, request):
        EngineMode.current()  # the singleton exists from the first look
        return super().get_queryset(request)

    def has_engine_mode_permission(self, request) -> bool:
        return request.user.has_perm("copytrading.change_engine_mode")


class CopySettingsForm(forms.ModelForm):
    change_reason = forms.CharField(label="Reason (audited)", widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = CopySettings
        fields = ("account", "copy_enabled", "sizing_mode", "multiplier", "fixed_notional")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("sizing_mode") == CopySettings.SizingMode.FIXED_NOTIONAL and not cleaned.get("fixed_notional"):
            self.add_error("fixed_notional", "Fixed-notional sizing needs an amount (USD).")
        for name in ("multiplier", "fixed_notional"):
            value = cleaned.get(name)
            if value is not None and value <= 0:
                self.add_error(name, "Must be positive.")
        return cleaned


@admin.register(CopySettings)
class CopySettingsAdmin(admin.ModelAdmin):
    form = CopySettingsForm
    list_display = ("account", "copy_enabled", "sizing_mode", "multiplier", "fixed_notional", "updated_at")
    list_filter = ("copy_enabled", "sizing_mode")
    search_fields = ("account__user_id",)
    readonly_fields = ("reason", "updated_at")
    actions = [
        reason_action(name="copy_off", description="Switch copying off", permission="engine_mode",
                      service=lambda *, actor, reason, account: copy_settings_update(
                          actor=actor, account=account, reason=reason, copy_enabled=False),
                      service_kwargs=lambda obj: {"account": obj.account}),
        reason_action(name="copy_on", description="Switch copying on", permission="engine_mode",
                      service=lambda *, actor, reason, account: copy_settings_update(
                          actor=actor, account=account, reason=reason, copy_enabled=True),
                      service_kwargs=lambda obj: {"account": obj.account}),
    ]

    def has_engine_mode_permission(self, request) -> bool:
        return request.user.has_perm("copytrading.change_engine_mode")

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("copytrading.change_engine_mode")

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("copytrading.change_engine_mode")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "account") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Through the service, so the change is validated and audited; never a direct save."""
        data = form.cleaned_data
        account = obj.account
        try:
            saved = copy_settings_update(
                actor=request.user, account=account, reason=data["change_reason"], copy_enabled=data["copy_enabled"],
                sizing_mode=data["sizing_mode"], multiplier=data["multiplier"], fixed_notional=data["fixed_notional"],
            )
        except ApplicationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = saved.pk


@admin.register(MasterSignal)
class MasterSignalAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "received_at", "source", "symbol", "side", "amount_display", "venue", "mode", "status",
                    "n_planned", "n_observed", "n_filled", "n_skipped", "skipped_by_reason", "orders_link")
    list_filter = ("status", "mode", "source", "venue", "side")
    search_fields = ("source_id", "master_order_id", "symbol")
    date_hierarchy = "received_at"
    readonly_fields = ("source", "source_id", "venue", "symbol", "side", "amount", "price", "order_type",
                       "master_order_id", "executed_at", "exit_fraction", "exit_fraction_source", "received_at",
                       "mode", "status", "status_reason", "master_equity_usd", "planned_at", "counts_by_reason",
                       "orders_link", "raw_payload")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _planned=Count("copy_orders", filter=~Q(copy_orders__status__in=["SKIPPED", "OBSERVED"])),
            _observed=Count("copy_orders", filter=Q(copy_orders__status="OBSERVED")),
            _filled=Count("copy_orders", filter=Q(copy_orders__status__in=["FILLED", "PARTIALLY_FILLED"])),
            _skipped=Count("copy_orders", filter=Q(copy_orders__status="SKIPPED")),
        )

    @admin.display(description="amount")
    def amount_display(self, obj):
        return format_decimal(obj.amount)

    @admin.display(description="planned", ordering="_planned")
    def n_planned(self, obj):
        return obj._planned

    @admin.display(description="observed", ordering="_observed")
    def n_observed(self, obj):
        return obj._observed

    @admin.display(description="filled", ordering="_filled")
    def n_filled(self, obj):
        return obj._filled

    @admin.display(description="skipped", ordering="_skipped")
    def n_skipped(self, obj):
        return obj._skipped

    @admin.display(description="skipped by reason")
    def skipped_by_reason(self, obj):
        if not obj._skipped:
            return "-"
        by_reason = signal_counts(signal=obj)["by_reason"]
        return ", ".join(f"{reason} {n}" for reason, n in sorted(by_reason.items()))

    @admin.display(description="skipped by reason")
    def counts_by_reason(self, obj):
        by_reason = signal_counts(signal=obj)["by_reason"]
        if not by_reason:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", sorted(by_reason.items())))

    @admin.display(description="copy orders")
    def orders_link(self, obj):
        url = reverse("admin:copytrading_copyorder_changelist") + f"?signal__id__exact={obj.pk}"
        return format_html('<a href="{}">copy orders</a>', url)


class FillInline(admin.TabularInline):
    model = CopyFill
    fields = ("trade_id", "side", "amount", "price", "cost", "fee", "fee_asset", "occurred_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(CopyOrder)
class CopyOrderAdmin(ReadOnlyModelAdmin):
    list_display = ("client_order_id", "signal_id", "account", "venue", "side", "quantity_display", "notional_display",
                    "status", "reason", "ack_latency_ms", "created_at")
    list_filter = ("status", "reason", "venue", "side", "is_exit")
    search_fields = ("client_order_id", "account__user_id", "venue_order_id")
    list_select_related = ("account",)
    inlines = [FillInline]
    readonly_fields = [f.name for f in CopyOrder._meta.fields if f.name != "claim_token"]

    @admin.display(description="quantity")
    def quantity_display(self, obj):
        return format_decimal(obj.quantity)

    @admin.display(description="notional")
    def notional_display(self, obj):
        return f"{format_decimal(obj.notional.quantize(Decimal('0.01')))} {obj.quote_currency}"


@admin.register(MissedTrade)
class MissedTradeAdmin(ReadOnlyModelAdmin):
    """Per account: the copies it did not get, and why."""

    list_display = ("account", "created_at", "signal_link", "symbol", "side", "status", "reason", "detail")
    list_filter = ("reason", "status", ("account", admin.RelatedOnlyFieldListFilter))
    search_fields = ("account__user_id",)
    list_select_related = ("account", "signal")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=MISSED_STATUSES)

    @admin.display(description="signal")
    def signal_link(self, obj):
        url = reverse("admin:copytrading_mastersignal_change", args=[obj.signal_id])
        return format_html('<a href="{}">#{}</a>', url, obj.signal_id)


@admin.register(CopyFill)
class CopyFillAdmin(ReadOnlyModelAdmin):
    list_display = ("trade_id", "copy_order", "symbol", "side", "amount", "price", "cost", "fee", "fee_asset",
                    "occurred_at")
    search_fields = ("trade_id", "copy_order__client_order_id")
    list_select_related = ("copy_order",)
