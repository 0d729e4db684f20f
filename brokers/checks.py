"""System checks of the brokers app: a malformed NIJA_CREDENTIAL_KEYS fails `manage.py check` (and
so every command and server start), not only the first credential read."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

from . import crypto


@register(Tags.security)
def credential_keys_check(app_configs, **kwargs) -> list[Error]:
    problem = crypto.credential_keys_problem(settings.NIJA_CREDENTIAL_KEYS)
    if not problem:
        return []
    return [Error(problem, hint="Each key is what Fernet.generate_key() prints; separate several with commas, "
                                "newest first (README: The credential key).", id="brokers.E001")]
