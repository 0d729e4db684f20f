from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.selectors import accounts_offboardable
from core.admin import ReadOnlyModelAdmin, account_page_section
from core.admin_actions import reason_action
from core.errors import ApplicationError

from .models import ComplianceFinding, ComplianceRun, Offboarding
from .selectors import findings_current_for, offboarding_for
from .services import compliance_finding_acknowledge, compliance_finding_resolve, offboarding_start
from .tasks import offboarding_advance_task


class OffboardingStartForm(forms.ModelForm):
    """Operators start an offboarding here (the accounts list's "Offboard" action opens it)."""

    account = forms.ModelChoiceField(queryset=accounts_offboardable())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why the account leaves: audited and told to the investor.")
    keep_positions = forms.BooleanField(required=False, help_text="Do not sell: the investor takes the assets in kind.")
    confirm = forms.BooleanField(
        required=True, label="I confirm",
        help_text="Trading stops at once, positions are sold at market (unless kept), credentials are archived "
                  "and the account becomes INACTIVE. This cannot be undone.")

    class Meta:
        model = Offboarding
        fields = ("account", "reason", "keep_positions")


@admin.register(Offboarding)
class OffboardingAdmin(admin.ModelAdmin):
    list_display = ("account", "progress", "keep_positions", "requested_by", "started_at", "finished_at")
    list_filter = ("step", "keep_positions")
    search_fields = ("account__user_id", "account__full_name", "reason")
    list_select_related = ("account",)
    readonly_fields = ("account", "reason", "keep_positions", "step", "waiting_on", "requested_by", "started_at",
                       "finished_at", "closes", "report_id", "summary", "communication_id")

    @admin.display(description="step")
    def progress(self, obj: Offboarding) -> str:
        return obj.progress_text()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OffboardingStartForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["account", "reason", "keep_positions", "confirm"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request):
        return {"account": request.GET.get("account")}

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("operations.add_offboarding")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            started = offboarding_start(actor=request.user, account=data["account"], reason=data["reason"],
                                        keep_positions=data["keep_positions"], confirm=data["confirm"])
        except ApplicationError as exc:  # validated by the form; this is a lost race
            self.message_user(request, f"Not started: {exc}", level=messages.ERROR)
            return
        # The steps talk to venues: a worker runs them, never this request.
        transaction.on_commit(lambda: offboarding_advance_task.delay(started.pk))
        obj.pk = started.pk
        obj.refresh_from_db()


@account_page_section("Offboarding")
def offboarding_section(account) -> str:
    """While it runs, the step the offboarding waits on; after, when and why the account left."""
    offboarding = offboarding_for(account=account)
    if offboarding is None:
        return format_html("{}", "not offboarding")
    return format_html("{} (reason: {}, started {} UTC by {})", offboarding.progress_text(), offboarding.reason,
                       f"{offboarding.started_at:%Y-%m-%d %H:%M}", offboarding.requested_by)


@admin.register(ComplianceRun)
class ComplianceRunAdmin(ReadOnlyModelAdmin):
    """Written only by daily_user_check and its beat task."""

    list_display = ("__str__", "kind", "finished_at", "findings_seen", "findings_new", "findings_resolved",
                    "open_after", "failed_checks")
    list_filter = ("kind",)
    readonly_fields = ("kind", "started_at", "finished_at", "triggered_by", "findings_seen", "findings_new",
                       "findings_resolved", "open_after", "counts", "summary", "failed_checks", "communication_ids")


@admin.register(ComplianceFinding)
class ComplianceFindingAdmin(ReadOnlyModelAdmin):
    """Written by the compliance check; operators acknowledge (with a note) or resolve a finding,
    both audited through operations.services."""

    list_display = ("pk", "kind", "account", "summary", "status", "first_seen_at", "last_seen_at", "times_seen")
    list_display_links = ("pk", "summary")
    list_filter = ("status", "kind")
    search_fields = ("account__user_id", "summary")
    list_select_related = ("account",)
    readonly_fields = ("key", "kind", "account", "summary", "facts", "status", "first_seen_at", "last_seen_at",
                       "first_run", "last_run", "times_seen", "acknowledged_at", "acknowledged_by",
                       "acknowledged_note", "resolved_at", "resolved_by", "resolution_note")
    actions = [
        reason_action(name="acknowledge_findings", description="Acknowledge (with a note)",
                      service=compliance_finding_acknowledge, permission="triage",
                      service_kwargs=lambda obj: {"finding": obj}),
        reason_action(name="resolve_findings", description="Resolve (with a note)",
                      service=compliance_finding_resolve, permission="triage",
                      service_kwargs=lambda obj: {"finding": obj}),
    ]

    def has_triage_permission(self, request) -> bool:
        return request.user.has_perm("operations.change_compliancefinding")


@account_page_section("Compliance findings")
def compliance_findings_section(account) -> str:
    """The account's findings not resolved yet, or that there are none."""
    findings = findings_current_for(account=account)
    if not findings:
        return format_html("{}", "No open compliance findings.")
    rows = format_html_join(
        "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
        ((reverse("admin:operations_compliancefinding_change", args=[f.pk]), f.get_kind_display(), f.summary,
          f.get_status_display(), f"{f.first_seen_at:%Y-%m-%d} to {f.last_seen_at:%Y-%m-%d}") for f in findings))
    link = reverse("admin:operations_compliancefinding_changelist") + f"?q={account.user_id}"
    return format_html('<table><tr><th>kind</th><th>found</th><th>status</th><th>seen</th></tr>{}</table>'
                       '<a href="{}">{} finding(s) in the compliance findings list</a>', rows, link, len(findings))
