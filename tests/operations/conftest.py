from tests.copytrading.conftest import _copy_settings, live, world  # noqa: F401  (the copy engine's fixtures)
