"""Locks that keep a periodic task from overlapping itself, across processes and machines.

With REDIS_URL a Redis key (SET NX with a TTL, so a killed holder frees it when the TTL runs out);
without it an flock'ed file in var/locks/ (every process of the embedded mode is on this machine,
and the kernel frees the lock when its holder dies). Not re-entrant: a second take from the same
process is refused like any other."""

from __future__ import annotations

import functools
import hashlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from filelock import FileLock, Timeout

# Delete the key only if it still holds our token: a holder whose TTL ran out must not free the
# lock a later holder took.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

_redis: redis.Redis | None = None
_redis_guard = threading.Lock()


def _redis_client() -> redis.Redis:
    global _redis
    with _redis_guard:
        if _redis is None:
            _redis = redis.Redis.from_url(settings.REDIS_URL)
        return _redis


@functools.lru_cache(maxsize=16)
def _namespace_of(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _namespace() -> str:
    """Per database: two installations (or two test databases) never block each other."""
    db = settings.DATABASES["default"]
    return _namespace_of(f"{db.get('HOST', '')}:{db.get('PORT', '')}:{db.get('NAME', '')}")


def _lock_path(name: str) -> Path:
    directory = Path(settings.VAR_DIR) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"task-{_namespace()}-{name}.lock"


@contextmanager
def task_lock(name: str, *, ttl_seconds: int) -> Iterator[bool]:
    """Try once to take the lock `name`; yields whether it was taken (never waits). `ttl_seconds`
    bounds how long a holder that died keeps it (Redis only); make it longer than the task's hard
    time limit so a live holder never loses it."""
    if settings.REDIS_URL:
        key, token = f"nija:task-lock:{_namespace()}:{name}", uuid.uuid4().hex
        client = _redis_client()
        taken = bool(client.set(key, token, nx=True, ex=ttl_seconds))
        try:
            yield taken
        finally:
            if taken:
                client.eval(_RELEASE, 1, key, token)
        return
    lock = FileLock(_lock_path(name), timeout=0, thread_local=False, is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
