from collections.abc import Callable
from typing import Any

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


# Sections that apps above `accounts` add to the account's admin page (title, render(account) -> safe
# HTML). The accounts app may not import them (the import layers), so they register here from their
# own admin modules and the account page shows whatever is registered.
ACCOUNT_PAGE_SECTIONS: list[tuple[str, Callable[[Any], str]]] = []


def account_page_section(title: str) -> Callable[[Callable[[Any], str]], Callable[[Any], str]]:
    def register(render: Callable[[Any], str]) -> Callable[[Any], str]:
        ACCOUNT_PAGE_SECTIONS.append((title, render))
        return render

    return register
