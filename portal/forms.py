"""Forms of the investor portal."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm


class PortalSignInForm(AuthenticationForm):
    """Django's sign-in form with the labels and autocomplete hints a password manager expects."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username"
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})
