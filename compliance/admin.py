from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
