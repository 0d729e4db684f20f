"""Test settings: fast hashing, eager tasks unless a test starts a real worker."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR, env

SECRET_KEY = "test-only-secret-key"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so tests that start worker processes share the test database.
    # One file per pytest process so parallel runs never share it; subprocess_env() passes the name on.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# A key generated for this test run and put in the environment, so worker processes started by tests
# (they inherit it) decrypt what the test wrote, and no key lives in the repository.
if not os.environ.get("NIJA_CREDENTIAL_KEYS"):
    from cryptography.fernet import Fernet

    os.environ["NIJA_CREDENTIAL_KEYS"] = Fernet.generate_key().decode()
NIJA_CREDENTIAL_KEYS = env.list("NIJA_CREDENTIAL_KEYS")

# No connection outlives its request or thread, so none can hold the test database at teardown.
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Throttle counters per test process, not in the shared Redis (parallel test processes would count
# each other's requests); rates high enough that only the throttle tests, which set their own, meet them.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
          "overview": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "overview"}}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {  # noqa: F405
    "user": "100000/min", "address": "100000/min", "signal_source": "100000/min", "refused_anonymous": "100000/min",
    "password_reset_address": "100000/min", "password_reset_email": "100000/min"}}
