"""Production: PostgreSQL, Redis, gunicorn behind a reverse proxy. Refuses to start without its
secrets rather than falling back to anything insecure."""

import sys

from .base import *  # noqa: F403
from .base import DATABASES, NIJA_CREDENTIAL_KEYS, REDIS_URL, SECRET_KEY, env


def _refuse(message: str) -> None:
    # One line naming the variable and a non-zero exit, before anything starts: a traceback from
    # the settings import would bury the one thing the operator has to fix.
    sys.stderr.write(f"configuration error: {message}\n")
    raise SystemExit(2)


if not SECRET_KEY:
    _refuse("SECRET_KEY must be set in production.")
if not NIJA_CREDENTIAL_KEYS:
    _refuse("NIJA_CREDENTIAL_KEYS must be set in production (comma-separated Fernet keys).")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    _refuse("DATABASE_URL must point at PostgreSQL in production.")
if not REDIS_URL:
    _refuse("REDIS_URL must be set in production.")

DEBUG = False
NIJA_OTP_REQUIRED = env.bool("NIJA_OTP_REQUIRED", default=True)  # superusers and operators (README: Security)
NIJA_TRUSTED_PROXY_COUNT = env.int("NIJA_TRUSTED_PROXY_COUNT", default=1)  # gunicorn behind one TLS proxy
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
