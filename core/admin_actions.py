"""Admin actions that need a reason: an intermediate page asks for it, then each selected object
goes through its service, so the admin never writes state directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.errors import ApplicationError


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                               label="Your password (your sign-in is more than a few minutes old)")


def reason_action(
    *, name: str, description: str, service: Callable[..., Any], permission: str,
    reason_required: bool = True, service_kwargs: Callable[[Model], dict] | None = None,
    password_check: Callable[..., str] | None = None,
) -> Callable:
    """Build an admin action calling `service(actor=..., <obj_kwarg>=obj, reason=...)` per object.
    `password_check(request=, password=)` (security.services.password_reconfirm) returns why the
    action may not go ahead yet ('' when it may): the page then asks for the password."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
        if "apply" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"].strip()
                problem = password_check(request=request, password=form.cleaned_data["password"]) if password_check \
                    else ""
                if reason_required and not reason:
                    form.add_error("reason", "A reason is required; it goes into the audit trail.")
                elif problem:
                    form.add_error("password", problem)
                else:
                    done, failed = 0, []
                    for obj in queryset:
                        kwargs = service_kwargs(obj) if service_kwargs else {"account": obj}
                        try:
                            service(actor=request.user, reason=reason, **kwargs)
                            done += 1
                        except ApplicationError as exc:
                            failed.append(f"{obj}: {exc}")
                    if done:
                        modeladmin.message_user(request, f"{description}: {done} done.", messages.SUCCESS)
                    for line in failed:
                        modeladmin.message_user(request, line, messages.ERROR)
                    return None
        else:
            form = ReasonForm()
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "action_name": name,
            "queryset": queryset,
            "form": form,
            "reason_required": reason_required,
            "ask_password": bool(password_check and password_check(request=request, password="")),
            "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/reason_action.html", context)

    action.__name__ = name
    action.short_description = description
    action.allowed_permissions = (permission,)
    return action
