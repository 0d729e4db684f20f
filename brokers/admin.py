"""Admin: credentials are added or replaced through write-only fields and the credential service
(checked in the form's clean, stored once in save_model: verify, permission check, encrypt,
audit); a secret is never displayed, only the last-4 hint. Snapshots, alerts and PAPER state are
read-only views."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from core.admin_actions import reason_action
from core.errors import ApplicationError
from security.services import password_reconfirm

from .models import Alert, BalanceSnapshot, BrokerCredential, PaperBalance, PaperOrder, PaperPrice
from .selectors import credential_exists, credential_get
from .services import CredentialPlan, alert_resolve, credential_check, credential_status_set, credential_store


def _secret_field(label: str, required: bool = False) -> forms.CharField:
    # render_value=False: the browser never receives the value back, not even after a form error.
    return forms.CharField(label=label, required=required, strip=True,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


class CredentialForm(forms.ModelForm):
    api_key = _secret_field("API key")
    api_secret = _secret_field("API secret")
    passphrase = _secret_field("Passphrase (OKX, Coinbase legacy)")
    verify = forms.BooleanField(initial=True, required=False, help_text="Fetch balances with the key before saving.")
    allow_withdraw_permission = forms.BooleanField(
        required=False, help_text="Accept a key that can withdraw funds (needs a reason; audited)."
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    current_password = forms.CharField(
        label="Your password", required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Replacing a key asks for your password when your sign-in is more than a few minutes old.",
    )

    class Meta:
        model = BrokerCredential
        fields = ("account", "venue", "label", "is_paper")

    request = None  # set by the admin so the service records who did it
    credential_plan: CredentialPlan | None = None

    def validate_unique(self) -> None:
        """Adding an existing (account, venue, label) replaces its key; the service decides."""

    def clean(self):
        """Checks the key through the service (its refusal, a bad key or a withdraw permission,
        shows on the form) and writes nothing: save_model stores it, once."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        instance = self.instance
        account = cleaned.get("account") or (instance.account if instance.pk else None)
        venue = cleaned.get("venue") or instance.venue
        label = cleaned.get("label") or instance.label or "default"
        if not cleaned.get("api_key") or not cleaned.get("api_secret"):
            raise forms.ValidationError("Enter the API key and secret (they are stored encrypted and never shown).")
        replacing = instance.pk is not None or (account is not None and credential_exists(
            account=account, venue=venue, label=label))
        if replacing and self.request is not None:
            problem = password_reconfirm(request=self.request, password=cleaned.get("current_password") or "")
            if problem:
                self.add_error("current_password", problem)
                return cleaned
        try:
            self.credential_plan = credential_check(
                account=account, venue=venue, label=label,
                api_key=cleaned["api_key"], api_secret=cleaned["api_secret"],
                passphrase=cleaned.get("passphrase") or "", paper=cleaned.get("is_paper", instance.is_paper),
                verify=cleaned.get("verify", False),
                allow_withdraw_permission=cleaned.get("allow_withdraw_permission", False),
                reason=cleaned.get("reason") or "",
            )
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc)) from None
        if self.credential_plan.existing_id is not None and not instance.pk:
            # A replacement from the add page: the form validates (account, venue, label) against
            # the stored row as itself, not as a duplicate.
            self.instance = credential_get(credential_id=self.credential_plan.existing_id)
        for name in ("api_key", "api_secret", "passphrase", "current_password"):
            cleaned.pop(name, None)
        return cleaned


@admin.register(BrokerCredential)
class BrokerCredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ("account", "venue", "label", "is_paper", "masked_key", "status", "last_verified_at")
    list_filter = ("venue", "status", "is_paper")
    search_fields = ("account__user_id", "venue", "label")
    readonly_fields = ("masked_key", "status", "last_verified_at", "permissions", "created_at", "updated_at")
    actions = [
        reason_action(name="credential_disable", description="Disable selected credentials",
                      service=credential_status_set, permission="change",
                      service_kwargs=lambda obj: {"credential": obj, "status": "disabled"}),
        reason_action(name="credential_archive", description="Archive selected credentials",
                      service=credential_status_set, permission="change",
                      service_kwargs=lambda obj: {"credential": obj, "status": "archived"}),
        reason_action(name="credential_enable", description="Re-enable selected credentials",
                      service=credential_status_set, permission="change",
                      service_kwargs=lambda obj: {"credential": obj, "status": "active"}),
    ]

    @admin.display(description="API key")
    def masked_key(self, obj: BrokerCredential) -> str:
        return obj.masked_key if obj.hint else "****"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # replacing keeps the identity; only the key changes
            return ("account", "venue", "label", "is_paper", *self.readonly_fields)
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.request = request
        return form_class

    def save_model(self, request, obj, form, change):
        saved = credential_store(actor=request.user, plan=form.credential_plan)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # archive instead: the history of who traded with which key stays


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyModelAdmin):
    list_display = ("fetched_at", "account", "venue", "asset", "total", "usd_value", "status", "error")
    list_filter = ("status", "venue")
    search_fields = ("account__user_id", "asset")
    date_hierarchy = "fetched_at"


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("last_seen_at", "kind", "account", "status", "message", "occurrences")
    list_filter = ("status", "kind")
    search_fields = ("account__user_id", "message")
    readonly_fields = ("account", "kind", "status", "message", "details", "occurrences", "created_at",
                       "last_seen_at", "resolved_at")
    actions = [
        reason_action(name="alert_resolve", description="Resolve selected alerts", service=alert_resolve,
                      permission="change", reason_required=False, service_kwargs=lambda obj: {"alert": obj}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PaperBalance)
class PaperBalanceAdmin(ReadOnlyModelAdmin):
    list_display = ("credential", "asset", "free", "used")
    search_fields = ("credential__account__user_id", "asset")


@admin.register(PaperOrder)
class PaperOrderAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "credential", "client_order_id", "symbol", "side", "order_type", "amount",
                    "status", "filled", "average_price")
    search_fields = ("client_order_id", "venue_order_id")


@admin.register(PaperPrice)
class PaperPriceAdmin(ReadOnlyModelAdmin):
    list_display = ("symbol", "price", "updated_at")
