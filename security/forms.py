"""The staff sign-in form: password (through authenticate(), so the lockout applies) and, for a
user with a confirmed authenticator, its 6-digit code or one of their recovery codes."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import match_token, user_has_device


class StaffSignInForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code", required=False, max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes. "
                  "Leave empty if you have not set up two-factor sign-in.",
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not user_has_device(user):
            return cleaned
        token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
        device = match_token(user, token) if token else None
        if device is None:
            # A wrong code counts as a failed sign-in, so guessing codes meets the same lockout.
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()},
                                   request=self.request)
            raise forms.ValidationError(
                "Enter the current code from your authenticator app (or a recovery code).", code="otp_invalid")
        user.otp_device = device  # django_otp marks the session verified when the login completes
        return cleaned
