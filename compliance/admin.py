from django import forms
from django.contrib import admin

from core.admin import ReadOnlyModelAdmin

from .models import AuditEvent, Communication
from .services import communication_record


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
    class Meta:
        model = Communication
        fields = ("account", "kind", "channel", "direction", "subject", "body")


@admin.register(Communication)
class CommunicationAdmin(admin.ModelAdmin):
    """The communication log. Staff add notes and calls; sent messages are never edited."""

    form = CommunicationForm
    list_display = ("created_at", "account", "kind", "channel", "direction", "subject", "status", "created_by")
    list_filter = ("kind", "channel", "status", "direction")
    search_fields = ("account__user_id", "account__full_name", "subject", "body")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    autocomplete_fields = ("account",)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in Communication._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = communication_record(
            actor=request.user, account=data["account"], kind=data["kind"], channel=data["channel"],
            direction=data["direction"], subject=data["subject"], body=data["body"],
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
