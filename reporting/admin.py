from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyModelAdmin, account_page_section
from core.admin_actions import reason_action
from core.decimals import format_decimal, format_money
from core.errors import ApplicationError

from .models import (
    DailyNav,
    FeeCharge,
    FeeSchedule,
    LedgerEntry,
    PricePoint,
    ReconciliationBreak,
    Report,
    TaxYearClose,
)
from .selectors import reconciliation_breaks_current
from .services import (
    ledger_entry_build,
    ledger_entry_manual_record,
    reconciliation_break_explain,
    reconciliation_break_resolve,
)

MANUAL_FIELDS = ("account", "kind", "venue", "asset", "amount", "occurred_at", "counter_asset", "counter_amount",
                 "fee_asset", "fee_amount", "external_id")


class ReadOnlyAdmin(ReadOnlyModelAdmin):
    """Written only by services (the ledger is append-only; reports are generated)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class ManualEntryForm(forms.ModelForm):
    """A staff entry: validated by the same service as every other source, with a required reason."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Goes into the audit trail.")
    external_id = forms.CharField(required=False, help_text="Leave empty to generate one.")

    class Meta:
        model = LedgerEntry
        fields = MANUAL_FIELDS

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            ledger_entry_build(
                **{k: data.get(k) for k in MANUAL_FIELDS if k != "external_id"},
                external_id=data.get("external_id") or "manual-check",
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.extra.get("problems") or [str(exc)]) from None
        return data


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Read-only, except that staff with reporting.add_ledgerentry may append a manual entry."""

    form = ManualEntryForm

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("reporting.add_ledgerentry")

    def get_readonly_fields(self, request, obj=None):
        return super().get_readonly_fields(request, obj) if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*MANUAL_FIELDS, "reason"]
        return [f.name for f in self.model._meta.fields]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:  # viewing an entry: no form fields to validate
            kwargs["form"] = forms.ModelForm
            kwargs["fields"] = []
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry = ledger_entry_manual_record(
            actor=request.user, reason=data["reason"], **{k: data.get(k) for k in MANUAL_FIELDS},
        )
        obj.pk = entry.pk
        obj._state.adding = False

    list_display = ("occurred_at", "account", "venue", "kind", "side", "asset", "amount", "counter_asset",
                    "counter_amount", "fee_amount", "fee_asset", "external_id", "source")
    list_filter = ("kind", "source", "venue")
    search_fields = ("account__user_id", "external_id", "asset")
    date_hierarchy = "occurred_at"
    list_select_related = ("account",)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("account", "period", "period_start", "period_end", "generated_at", "rendered")
    list_filter = ("period",)
    search_fields = ("account__user_id",)
    exclude = ("html",)
    list_select_related = ("account",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "html"] + ["rendered"]

    @admin.display(description="report")
    def rendered(self, obj: Report) -> str:
        return format_html('<a href="{}" target="_blank">open</a>', reverse("portal-report", args=[obj.pk]))


@admin.register(PricePoint)
class PricePointAdmin(ReadOnlyAdmin):
    list_display = ("asset", "quote", "price", "observed_at", "source")
    list_filter = ("source", "asset")


@admin.register(TaxYearClose)
class TaxYearCloseAdmin(ReadOnlyAdmin):
    """Closed (filed) tax years: written only by `tax_year_close`, final."""

    list_display = ("account", "year", "method", "closed_at", "closed_by")
    list_filter = ("year", "method")
    search_fields = ("account__user_id",)


@admin.register(DailyNav)
class DailyNavAdmin(ReadOnlyAdmin):
    list_display = ("account", "day", "nav_usd", "units", "unit_nav", "net_flow_usd")
    list_filter = ("day",)
    search_fields = ("account__user_id",)


@admin.register(FeeCharge)
class FeeChargeAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "day", "basis_usd", "rate", "amount_usd", "trigger")
    list_filter = ("kind",)
    search_fields = ("account__user_id",)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(ReadOnlyAdmin):
    """Rates change through `set_fee_schedule` (audited)."""

    list_display = ("account", "performance_fee_rate", "management_fee_rate", "updated_at")


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(ReadOnlyAdmin):
    """Written by `reconcile_books`; staff explain or resolve a break (with a reason, audited)."""

    list_display = ("account", "venue", "asset", "ledger_quantity", "venue_quantity", "difference",
                    "difference_usd", "status", "first_seen_at", "last_seen_at")
    list_filter = ("status", "venue", "asset")
    search_fields = ("account__user_id", "asset")
    list_select_related = ("account",)
    actions = [
        reason_action(name="explain_breaks", description="Mark explained", service=reconciliation_break_explain,
                      permission="reconcile", service_kwargs=lambda obj: {"reconciliation_break": obj}),
        reason_action(name="resolve_breaks", description="Mark resolved", service=reconciliation_break_resolve,
                      permission="reconcile", service_kwargs=lambda obj: {"reconciliation_break": obj}),
    ]

    def has_reconcile_permission(self, request) -> bool:
        return request.user.has_perm("reporting.change_reconciliationbreak")


@account_page_section("Books vs venues")
def account_reconciliation_section(account) -> str:
    """The account's reconciliation breaks not resolved yet (reconcile_books), or that there are none."""
    breaks = reconciliation_breaks_current(account=account)
    if not breaks:
        return "No open reconciliation breaks: the ledger agrees with the venues' latest balances."
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((b.venue, b.asset, format_decimal(b.ledger_quantity), format_decimal(b.venue_quantity),
          format_decimal(b.difference), format_money(b.difference_usd) if b.difference_usd is not None
          else "unpriced", f"{b.status} since {b.first_seen_at:%Y-%m-%d}") for b in breaks),
    )
    link = reverse("admin:reporting_reconciliationbreak_changelist") + f"?q={account.user_id}"
    return format_html(
        '<table><tr><th>venue</th><th>asset</th><th>ledger</th><th>venue</th><th>difference</th><th>USD</th>'
        "<th>status</th></tr>{}</table><a href=\"{}\">{} break(s) in the reconciliation list</a>",
        rows, link, len(breaks))
