"""One-time links into the investor portal: the invitation that sets a first password and the
password reset. Both are Django's token machinery (a hash over the login's password hash, last
login and a timestamp), so a link dies when it is used (the password changes), when a newer
invitation replaces the login's unusable password, or when it expires."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from compliance.selectors import communication_latest_id

INVITATION_KIND = "invitation"
PASSWORD_RESET_KIND = "password_reset"

LINK_PROBLEMS = {
    "invalid": "This link is not valid. Check that you opened the whole link from the e-mail.",
    "used": "This link has already been used. Sign in with the password you set, or ask for a password reset.",
    "replaced": "This link was replaced by a newer invitation. Use the link in the most recent e-mail.",
    "expired": "This link has expired. Ask us for a new invitation, or use 'Forgot your password?'.",
}


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for portal invitations: their own salt (a reset token is no invitation token) and
    their own lifetime, NIJA_PORTAL_INVITE_DAYS, instead of PASSWORD_RESET_TIMEOUT."""

    key_salt = "nija.accounts.portal_invitation"

    def check_token(self, user, token) -> bool:
        return self.token_problem(user, token) is None

    def token_problem(self, user, token) -> str | None:
        """None when the token opens `user`'s invitation, else the key of LINK_PROBLEMS saying why not."""
        if user is None or not token:
            return "invalid"
        try:
            ts_b36, _ = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return "invalid"
        secrets = [self.secret, *self.secret_fallbacks]
        if not any(constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
                   for secret in secrets):
            # Well formed but not for the login as it is now: its password changed since.
            return "used" if user.has_usable_password() else "replaced"
        if self._num_seconds(self._now()) - timestamp > settings.NIJA_PORTAL_INVITE_DAYS * 86400:
            return "expired"
        return None


invitation_tokens = InvitationTokenGenerator()


def portal_url(path: str) -> str:
    return settings.NIJA_PORTAL_BASE_URL.rstrip("/") + path


def invitation_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return portal_url(reverse("portal-invitation", kwargs={"uidb64": uid, "token": invitation_tokens.make_token(user)}))


def password_reset_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return portal_url(reverse("portal-password-reset-confirm",
                              kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)}))


def _invitation_context(*, account, link: str) -> dict:
    return {"account": account, "username": account.portal_user.get_username(), "link": link,
            "link_is_url": link.startswith("http"), "days": settings.NIJA_PORTAL_INVITE_DAYS,
            "login_url": portal_url(reverse("portal-login"))}


def _password_reset_context(*, account, link: str) -> dict:
    return {"account": account, "username": account.portal_user.get_username(), "link": link,
            "link_is_url": link.startswith("http"), "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}


def invitation_subject() -> str:
    return render_to_string("email/portal_invitation_subject.txt").strip()


def password_reset_subject() -> str:
    return render_to_string("email/portal_password_reset_subject.txt").strip()


def invitation_body(*, account, link: str) -> str:
    return render_to_string("email/portal_invitation.txt", _invitation_context(account=account, link=link))


def password_reset_body(*, account, link: str) -> str:
    return render_to_string("email/portal_password_reset.txt", _password_reset_context(account=account, link=link))


def _invitation_email(*, account, link: str) -> tuple[str, str]:
    context = _invitation_context(account=account, link=link)
    return (render_to_string("email/portal_invitation.txt", context),
            render_to_string("email/portal_invitation.html", context))


def _password_reset_email(*, account, link: str) -> tuple[str, str]:
    context = _password_reset_context(account=account, link=link)
    return (render_to_string("email/portal_password_reset.txt", context),
            render_to_string("email/portal_password_reset.html", context))


def invitation_email_render(message) -> tuple[str, str]:
    """The invitation e-mail (text, HTML) at send time. Only the account's newest invitation gets a
    link, and only while the login has no password yet, so a late delivery never opens a used login."""
    account = message.account
    user = account.portal_user
    if user is None or user.has_usable_password():
        return _invitation_email(account=account, link="(this invitation was already used; sign in instead)")
    if communication_latest_id(account=account, kind=INVITATION_KIND) != message.id:
        return _invitation_email(account=account, link="(replaced by a newer invitation; use the newest e-mail)")
    return _invitation_email(account=account, link=invitation_link(user))


def password_reset_email_render(message) -> tuple[str, str]:
    account = message.account
    user = account.portal_user
    if user is None or communication_latest_id(account=account, kind=PASSWORD_RESET_KIND) != message.id:
        return _password_reset_email(account=account, link="(replaced by a newer request; use the newest e-mail)")
    return _password_reset_email(account=account, link=password_reset_link(user))
