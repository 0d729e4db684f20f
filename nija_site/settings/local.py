"""Developer and embedded-demo settings: SQLite, filesystem broker, PAPER broker."""


from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
# A local-only key so `make run` works with no configuration; production refuses to start without one.
SECRET_KEY = env("SECRET_KEY", default="local-insecure-key-do-not-use-in-production")
# Without NIJA_CREDENTIAL_KEYS, brokers.crypto generates a key once into this file (mode 0600).
NIJA_CREDENTIAL_KEY_FILE = VAR_DIR / "credential.key"
