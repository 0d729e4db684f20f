from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join

from compliance.models import Communication, NotificationPreference
from compliance.services import PREFERENCE_FIELDS, notification_preferences_update
from core.admin import ACCOUNT_PAGE_SECTIONS
from core.admin_actions import reason_action
from core.errors import ApplicationError

from .models import Account, ApiToken, RiskProfile
from .risk import risk_values_clean
from .selectors import account_by_id, account_master
from .services import (
    ACCOUNT_EDITABLE_FIELDS,
    API_TOKEN_MAX_DAYS,
    account_onboard,
    account_reactivate,
    account_suspend,
    account_trading_disable,
    account_trading_enable,
    account_update,
    api_token_create,
    api_token_revoke,
    portal_invitation_send,
    risk_profile_update,
)

RISK_FORM_FIELDS = (
    "risk_tolerance", "max_daily_loss_amount", "max_daily_loss_pct", "auto_suspend_on_daily_loss",
    "max_position_notional", "max_position_pct", "max_concurrent_positions", "allowed_instruments",
    "blocked_instruments", "leverage_limit", "stop_loss_required", "stop_loss_pct", "max_slippage_pct",
    "min_balance_to_copy", "low_balance_alert",
)


class RiskProfileForm(forms.ModelForm):
    class Meta:
        model = RiskProfile
        fields = RISK_FORM_FIELDS

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.changed_data:
            try:
                risk_values_clean({k: cleaned.get(k) for k in self.changed_data},
                                  current={k: cleaned.get(k) for k in RISK_FORM_FIELDS})
            except ApplicationError as exc:
                for field, message in exc.extra.get("fields", {}).items():
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


class RiskProfileInline(admin.StackedInline):
    model = RiskProfile
    form = RiskProfileForm
    can_delete = False
    extra = 0
    max_num = 1


class CommunicationInline(admin.TabularInline):
    """The account's communication log, newest first; entries are added from the log itself."""

    model = Communication
    fields = ("created_at", "category", "kind", "channel", "direction", "subject", "status", "follow_up_due",
              "follow_up_done", "created_by")
    readonly_fields = fields
    ordering = ("-created_at",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class NotificationPreferenceInline(admin.StackedInline):
    """Which optional messages the account holder gets (saved through compliance's service, audited)."""

    model = NotificationPreference
    fields = PREFERENCE_FIELDS
    verbose_name = verbose_name_plural = "notification preferences"
    can_delete = False
    extra = 1
    max_num = 1


class AccountAddForm(forms.ModelForm):
    risk_tolerance = forms.ChoiceField(choices=RiskProfile.Tolerance.choices, initial="MEDIUM")
    master = forms.BooleanField(required=False, help_text="Create the MASTER account (only one may exist).")

    class Meta:
        model = Account
        fields = ("user_id", "full_name", "email", "phone", "account_type", "tier",
                  "initial_capital", "initial_capital_currency", "portal_user")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("master") and account_master() is not None:
            raise forms.ValidationError("A MASTER account already exists; there can be only one.")
        return cleaned


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("user_id", "full_name", "kind", "status", "tier", "account_type", "trading_enabled", "created_at")
    list_filter = ("status", "kind", "account_type", "tier", "trading_enabled")
    search_fields = ("user_id", "full_name", "email")
    date_hierarchy = "created_at"
    readonly_fields = ("kind", "status", "trading_enabled", "initial_capital", "initial_capital_currency",
                       "created_at", "updated_at", "other_records")
    fields = ("user_id", "kind", "status", "trading_enabled", *ACCOUNT_EDITABLE_FIELDS,
              "initial_capital", "initial_capital_currency", "created_at", "updated_at", "other_records")
    inlines = [RiskProfileInline, NotificationPreferenceInline, CommunicationInline]
    actions = [
        reason_action(name="enable_trading", description="Enable trading", service=account_trading_enable,
                      permission="trading_state", reason_required=False),
        reason_action(name="disable_trading", description="Disable trading", service=account_trading_disable,
                      permission="trading_state"),
        reason_action(name="suspend_accounts", description="Suspend", service=account_suspend,
                      permission="trading_state"),
        reason_action(name="reactivate_accounts", description="Reactivate", service=account_reactivate,
                      permission="trading_state"),
        "invite_to_portal",
        "offboard_account",
    ]

    @admin.display(description="records")
    def other_records(self, obj: Account) -> str:
        """What other apps keep about the account (core.admin.ACCOUNT_PAGE_SECTIONS), one section each."""
        if obj.pk is None:
            return ""
        return format_html_join("", "<div><strong>{}</strong><div>{}</div></div>",
                                ((title, render(obj)) for title, render in ACCOUNT_PAGE_SECTIONS))

    @admin.action(description="Invite to the investor portal (e-mail a set-password link)", permissions=["change"])
    def invite_to_portal(self, request, queryset):
        for account in queryset:
            try:
                portal_invitation_send(actor=request.user, account=account)
            except ApplicationError as exc:
                self.message_user(request, f"{account.user_id}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{account.user_id}: invitation sent to {account.email}.", messages.SUCCESS)

    @admin.action(description="Offboard (asks for the reason and a confirmation)", permissions=["offboard"])
    def offboard_account(self, request, queryset):
        """Opens the offboarding form for one account; the procedure itself is operations'."""
        if queryset.count() != 1:
            self.message_user(request, "Offboard one account at a time.", level="warning")
            return None
        return HttpResponseRedirect(f"{reverse('admin:operations_offboarding_add')}?account={queryset.get().pk}")

    def has_offboard_permission(self, request) -> bool:
        return request.user.has_perm("operations.add_offboarding")

    def has_trading_state_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_trading_state")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # accounts are offboarded to INACTIVE, never deleted: the ledger and audit refer to them

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AccountAddForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": list(AccountAddForm.Meta.fields) + ["risk_tolerance", "master"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("user_id", *self.readonly_fields)

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not change:
            data = form.cleaned_data
            try:
                account = account_onboard(
                    actor=request.user, user_id=data["user_id"], full_name=data["full_name"], email=data["email"],
                    phone=data.get("phone") or "", account_type=data["account_type"], tier=data["tier"],
                    risk_tolerance=data["risk_tolerance"], initial_capital=data["initial_capital"],
                    currency=data["initial_capital_currency"], master=data.get("master", False),
                )
            except ApplicationError as exc:  # the form validated first; this is a lost race
                self.message_user(request, f"Not created: {exc}", level="error")
                return
            if data.get("portal_user"):
                account_update(actor=request.user, account=account, changes={"portal_user": data["portal_user"]})
            obj.pk = account.pk
            obj.refresh_from_db()
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in ACCOUNT_EDITABLE_FIELDS}
        if changes:
            account_update(actor=request.user, account=account_by_id(account_id=obj.pk), changes=changes,
                           reason="admin edit")
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        # The admin's change message reads these; the services do the actual writes.
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        if formset.model is NotificationPreference:
            for inline_form in formset.forms:
                if inline_form.has_changed():
                    prefs = notification_preferences_update(
                        actor=request.user, account=form.instance,
                        changes={k: inline_form.cleaned_data[k] for k in PREFERENCE_FIELDS})
                    if inline_form.instance.pk:
                        formset.changed_objects.append((prefs, inline_form.changed_data))
                    else:
                        formset.new_objects.append(prefs)
            return None
        if formset.model is not RiskProfile:
            return None  # the communication log is read-only here
        with transaction.atomic():
            for inline_form in formset.forms:
                if inline_form.instance.pk and inline_form.changed_data:
                    risk_profile_update(
                        actor=request.user, account=inline_form.instance.account, reason="admin edit",
                        changes={k: inline_form.cleaned_data[k] for k in inline_form.changed_data},
                    )
                    formset.changed_objects.append((inline_form.instance, inline_form.changed_data))


class ApiTokenAddForm(forms.ModelForm):
    expires_days = forms.IntegerField(min_value=1, max_value=API_TOKEN_MAX_DAYS, initial=90, required=False,
                                      help_text="Empty: never expires (revoke it when done).")

    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_user(self):
        # A token acts as its user: an operator may make one for themselves or for an investor
        # login, never for another staff member (that would be acting as them).
        user = self.cleaned_data["user"]
        me = self.request.user
        if user.pk != me.pk and user.is_staff and not me.is_superuser:
            raise forms.ValidationError("Only a superuser may create a token for another staff member.")
        if not user.is_active:
            raise forms.ValidationError("This login is inactive.")
        return user


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created here or by `api_token_create`, shown once, and revoked by the action;
    only the digest is stored, so no page can show a token again."""

    list_display = ("name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "user__username", "prefix")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "created_by", "expires_at", "last_used_at",
                       "revoked_at")
    actions = [reason_action(name="revoke_tokens", description="Revoke", service=api_token_revoke,
                             permission="change", reason_required=False,
                             service_kwargs=lambda token: {"token": token})]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, never deleted: the audit trail names them

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs.update(form=ApiTokenAddForm, fields=None)
            form = super().get_form(request, obj, change=change, **kwargs)

            class RequestForm(form):
                def __init__(self, *args, **kw):
                    super().__init__(*args, request=request, **kw)

            return RequestForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["user", "name", "expires_days"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return  # every field is read-only; revoking is the action
        data = form.cleaned_data
        token, text = api_token_create(actor=request.user, user=data["user"], name=data["name"],
                                       expires_days=data.get("expires_days"))
        obj.pk = token.pk
        obj.refresh_from_db()
        request.nija_new_token = text  # for response_add only: never a message (messages live in a cookie)

    def response_add(self, request, obj, post_url_continue=None):
        text = getattr(request, "nija_new_token", None)
        if text is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), "title": "API token created", "token": obj,
                   "token_text": text, "opts": self.model._meta}
        response = TemplateResponse(request, "admin/nija/api_token_created.html", context)
        response["Cache-Control"] = "no-store"
        return response
