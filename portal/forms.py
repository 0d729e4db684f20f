"""Forms of the investor portal."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts.selectors import accounts_with_portal_login_by_email
from accounts.services import portal_password_reset_send


class PortalSignInForm(AuthenticationForm):
    """Django's sign-in form with the labels and autocomplete hints a password manager expects."""

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
