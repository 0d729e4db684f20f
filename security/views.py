"""Password reset by e-mail for staff and investors: Django's views with the project's templates.
Requests are rate limited per client address and per e-mail address. Setting a new password through
the e-mailed link also unlocks a sign-in locked after failed
attempts (audited, the user as actor): whoever holds the mailbox could reset it anyway."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from .services import login_unlock_on_password_reset
from .throttles import password_reset_refusal


class PasswordResetRateLimited:
    """A reset request over the rate (per client address, per e-mail address) sends nothing and shows
    the form again, HTTP 429, saying why and when to try again. Staff's and the portal's reset views."""

    def form_valid(self, form):
        refusal = password_reset_refusal(request=self.request, email=form.cleaned_data["email"])
        if refusal:
            form.add_error(None, refusal)
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


class PasswordResetRequest(PasswordResetRateLimited, auth_views.PasswordResetView):
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
