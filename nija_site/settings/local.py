"""Developer and embedded-demo settings: SQLite, filesystem broker, PAPER broker."""


from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
# A local-only key so `make run` works with no configuration; production refuses to start without one.
SECRET_KEY = env("SECRET_KEY", default="local-insecure-key-do-not-use-in-production")
# Without NIJA_CREDENTIAL_KEYS, brokers.crypto generates a key once into this file (mode 0600).
NIJA_CREDENTIAL_KEY_FILE = VAR_DIR / "credential.key"
# E-mail in the embedded mode: every message is written as a file under var/mail/ (one .log file per
# sending connection), never sent; EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend prints
# them instead, and the EMAIL_* variables with the SMTP backend send them for real.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default="") or str(VAR_DIR / "mail")
