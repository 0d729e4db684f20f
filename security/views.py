"""Password reset by e-mail on the back office's pages (any login with a password: staff, and
investors' logins): Django's views with the project's templates. The e-mail is a communication-log
row first, sent by the worker with its one-time link written at send time. Requests are rate limited
per client address and per e-mail address. Setting a new password through the e-mailed link is
audited and also unlocks a sign-in locked after failed attempts (the user as actor): whoever holds
the mailbox could reset it anyway."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from .forms import StaffPasswordResetForm
from .services import password_reset_complete_record
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
    form_class = StaffPasswordResetForm
    success_url = reverse_lazy("password_reset_done")


class PasswordResetSent(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_reset_complete_record(user=form.user)
        return response


class PasswordResetComplete(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
