"""Sign-in forms' second factor: for a user with a confirmed authenticator, its 6-digit code or one
of their recovery codes, after the password (through authenticate(), so the lockout applies). The
staff sign-in and the investor portal's sign-in are the same form on Django's two login forms."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django_otp import match_token, user_has_device

from .services import staff_password_reset_send

OTP_TOKEN_HELP = ("The 6-digit code from your authenticator app, or one of your recovery codes. "
                  "Leave empty if you have not set up two-factor sign-in.")


def otp_token_field(*, label: str = "Authenticator code", required: bool = False, help_text: str = OTP_TOKEN_HELP):
    return forms.CharField(
        label=label, required=required, max_length=16, help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


def otp_token_match(*, user, token: str, request):
    """The device `token` (a current TOTP code or an unused recovery code) belongs to, or None. A
    wrong or missing code counts as a failed sign-in, so guessing codes meets the same lockout."""
    token = (token or "").strip().replace(" ", "")
    device = match_token(user, token) if token else None
    if device is None:
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    return device


class SecondFactorForm(forms.Form):
    """Put before an AuthenticationForm: its password check, then the code when the user has an
    authenticator; django_otp marks the session verified when the login completes."""

    otp_token = otp_token_field()

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not user_has_device(user):
            return cleaned
        device = otp_token_match(user=user, token=cleaned.get("otp_token"), request=self.request)
        if device is None:
            raise forms.ValidationError(
                "Enter the current code from your authenticator app (or a recovery code).", code="otp_invalid")
        user.otp_device = device
        return cleaned


class StaffSignInForm(SecondFactorForm, AdminAuthenticationForm):
    pass


class StaffPasswordResetForm(PasswordResetForm):
    """Django's reset form (the active logins with this address and a password), but the message goes
    through the communication log (sent by a worker, the link written at send time) instead of
    straight to SMTP. The page says the same whether or not the address is known."""

    def save(self, **kwargs) -> None:  # noqa: ARG002 - Django passes its mail options; the log sends
        for user in self.get_users(self.cleaned_data["email"]):
            staff_password_reset_send(user=user)
