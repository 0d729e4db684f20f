"""Password reset by e-mail for staff and investors: Django's views with the project's templates.
Setting a new password through the e-mailed link also unlocks a sign-in locked after failed
attempts (audited, the user as actor): whoever holds the mailbox could reset it anyway."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from .services import login_unlock_on_password_reset


class PasswordResetRequest(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "email/password_reset.txt"
    subject_template_name = "email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def get_extra_email_context(self) -> dict:
        return {"expiry_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)}

    def form_valid(self, form):
        self.extra_email_context = self.get_extra_email_context()
        return super().form_valid(form)


class PasswordResetSent(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        login_unlock_on_password_reset(user=form.user)
        return response


class PasswordResetComplete(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
