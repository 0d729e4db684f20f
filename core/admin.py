from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For rows written only by services (audit chain, ledger, snapshots, engine records): staff
    may look, never add, edit or delete through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
