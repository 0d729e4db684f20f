from django import forms
from django.contrib import admin
from django.utils import timezone

from core.admin import ReadOnlyModelAdmin

from .models import AuditEvent, Communication
from .services import communication_follow_up_set, communication_record


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only: the audit chain is appended by services and never edited."""

    list_display = ("seq", "created_at", "action", "target_type", "target_id", "actor", "short_reason")
    list_filter = ("action", "target_type")
    search_fields = ("target_id", "actor", "action", "reason")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    ordering = ("-seq",)

    @admin.display(description="reason")
    def short_reason(self, obj: AuditEvent) -> str:
        return (obj.reason[:60] + "…") if len(obj.reason) > 60 else obj.reason


class CommunicationForm(forms.ModelForm):
    """Staff log an inbound message, a call or a note (outbound e-mail is written by the system)."""

    category = forms.ChoiceField(label="type", choices=[("", "(from the channel and direction)"),
                                                        *Communication.Category.choices], required=False)

    class Meta:
        model = Communication
        fields = ("account", "category", "kind", "channel", "direction", "subject", "body", "follow_up_due")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].required = True
        self.fields["kind"].initial = Communication.Kind.CALL
        self.fields["channel"].initial = Communication.Channel.PHONE
        self.fields["direction"].initial = Communication.Direction.INBOUND


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = Communication
        fields = ("follow_up_due", "follow_up_done")


class FollowUpListFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("overdue", "Overdue"), ("done", "Done"), ("none", "None")]

    def queryset(self, request, queryset):
        today = timezone.now().date()
        return {
            "open": lambda: queryset.filter(follow_up_due__isnull=False, follow_up_done=False),
            "overdue": lambda: queryset.filter(follow_up_due__lt=today, follow_up_done=False),
            "done": lambda: queryset.filter(follow_up_done=True),
            "none": lambda: queryset.filter(follow_up_due__isnull=True, follow_up_done=False),
        }.get(self.value(), lambda: queryset)()


@admin.register(Communication)
class CommunicationAdmin(admin.ModelAdmin):
    """The communication log. Staff log inbound messages, calls and notes, and set follow-ups (due date,
    done) from the list or the entry's page; nothing else of a logged entry can be edited."""

    list_display = ("created_at", "category", "recipient", "kind", "subject", "status", "follow_up_due",
                    "follow_up_done", "created_by")
    list_display_links = ("created_at", "subject")
    list_editable = ("follow_up_due", "follow_up_done")
    list_filter = ("category", "status", FollowUpListFilter, "kind", "channel", "direction")
    list_per_page = 50
    search_fields = ("account__user_id", "account__full_name", "subject", "body")
    date_hierarchy = "created_at"
    list_select_related = ("account", "recipient_user")
    autocomplete_fields = ("account",)
    EDITABLE = ("follow_up_due", "follow_up_done")

    @admin.display(description="to / from", ordering="account__user_id")
    def recipient(self, obj: Communication) -> str:
        if obj.account_id:
            return obj.account.user_id
        return f"login {obj.recipient_user.get_username()}" if obj.recipient_user_id else "staff"

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = FollowUpForm if obj is not None else CommunicationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", FollowUpForm)
        return super().get_changelist_form(request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return CommunicationForm.Meta.fields
        return [f.name for f in Communication._meta.fields if f.name not in ("id", "dedup_key")]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in Communication._meta.fields if f.name not in self.EDITABLE]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:  # only the follow-up changes, through the service (audited)
            communication_follow_up_set(actor=request.user, communication_id=obj.pk,
                                        due=data.get("follow_up_due"), done=data.get("follow_up_done", False))
            obj.refresh_from_db()
            return
        saved = communication_record(
            actor=request.user, account=data["account"], kind=data["kind"], channel=data["channel"],
            direction=data["direction"], subject=data["subject"], body=data["body"], category=data["category"],
            follow_up_due=data.get("follow_up_due"),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
