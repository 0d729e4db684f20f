"""Forms of the investor portal."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts.selectors import accounts_with_portal_login_by_email
from accounts.services import portal_password_reset_send
from security.forms import SecondFactorForm, otp_token_field, otp_token_match


class PortalSignInForm(SecondFactorForm, AuthenticationForm):
    """Django's sign-in form with the labels and autocomplete hints a password manager expects, and
    the authenticator code once the investor turned two-factor sign-in on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username"
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class PortalPasswordResetForm(PasswordResetForm):
    """Django's reset form, for investors only: the address is the account's e-mail, and the
    message goes through the communication log (sent by a worker) instead of straight to SMTP.
    The page says the same whether or not the address is known."""

    def accounts(self):
        return accounts_with_portal_login_by_email(email=self.cleaned_data["email"])

    def save(self, **kwargs) -> None:  # noqa: ARG002 - Django passes its mail options; the log sends
        for account in self.accounts():
            portal_password_reset_send(account=account)


class TwoFactorConfirmForm(forms.Form):
    token = forms.CharField(label="Code from the app", max_length=8, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class TwoFactorOffForm(forms.Form):
    """Turning two-factor sign-in off asks for both the password and a current code (or a recovery
    code); a wrong one of either counts as a failed sign-in, so the lockout applies."""

    password = forms.CharField(label="Your password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    otp_token = otp_token_field(label="Code from your authenticator app, or a recovery code", required=True,
                                help_text="")

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned = super().clean()
        user = self.request.user
        if "password" in cleaned and authenticate(self.request, username=user.get_username(),
                                                  password=cleaned["password"]) is None:
            raise forms.ValidationError("That password is not right.", code="password_invalid")
        if "otp_token" in cleaned and otp_token_match(user=user, token=cleaned["otp_token"],
                                                      request=self.request) is None:
            raise forms.ValidationError("That code does not match: enter the 6 digits your app shows now, "
                                        "or a recovery code.", code="otp_invalid")
        return cleaned
