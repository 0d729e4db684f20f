"""One request at a time per credential, across threads, tasks and processes.

Kraken (and others) reject a request whose nonce is not larger than the previous one, so two
concurrent calls on one key fail with "invalid nonce". Every client call takes this lock. With
REDIS_URL it is a Redis lock (shared by every machine); without it, an flock'ed file in var/locks/
(shared by every process on this machine, which is all the embedded mode has). The lock is
re-entrant within one thread or asyncio task, so a caller holding it may call the client."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

from django.conf import settings
from filelock import FileLock, Timeout

from .base import BrokerUnavailableError

LOCK_TTL_SECONDS = 120  # a Redis lock whose holder died expires after this
LOCK_WAIT_SECONDS = 60  # how long a caller waits for a busy credential before giving up (nothing sent)

# (credential id, owner) pairs held by the current thread or task. The owner matters: child tasks
# and threads copy this context, and must wait for the lock rather than share their parent's.
_held: contextvars.ContextVar[frozenset[tuple[int, tuple]]] = contextvars.ContextVar(
    "nija_credential_locks", default=frozenset()
)


def _owner() -> tuple:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        task = None
    return ("task", id(task)) if task is not None else ("thread", threading.get_ident())
_redis_sync = None
_redis_sync_guard = threading.Lock()
_redis_async: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=16)
def _namespace_of(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _namespace() -> str:
    """Locks are per database: two test databases (or two installations) never block each other."""
    db = settings.DATABASES["default"]
    return _namespace_of(f"{db.get('HOST', '')}:{db.get('PORT', '')}:{db.get('NAME', '')}")


@functools.lru_cache(maxsize=16)
def _lock_dir(var_dir: str) -> Path:
    directory = Path(var_dir) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _lock_name(credential_id: int) -> str:
    return f"nija:credential-lock:{_namespace()}:{credential_id}"


def _lock_path(credential_id: int) -> Path:
    return _lock_dir(str(settings.VAR_DIR)) / f"credential-{_namespace()}-{credential_id}.lock"


def _busy(credential_id: int) -> BrokerUnavailableError:
    return BrokerUnavailableError(
        f"credential {credential_id} stayed busy for {LOCK_WAIT_SECONDS}s; nothing was sent", venue="lock"
    )


def _sync_redis():
    global _redis_sync
    with _redis_sync_guard:
        if _redis_sync is None:
            import redis

            _redis_sync = redis.Redis.from_url(settings.REDIS_URL)
        return _redis_sync


ASYNC_REDIS_CONNECTIONS = 8  # per event loop; more lock calls than this wait for a free connection


def _async_redis():
    """One client per event loop (asyncio connections belong to their loop). A fan-out starts a
    loop per chunk, so connections must be cheap: a small blocking pool (callers queue instead of
    each opening its own connection) and no CLIENT SETINFO handshake (which also costs a package
    metadata lookup per connection)."""
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _redis_async.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=ASYNC_REDIS_CONNECTIONS, timeout=LOCK_WAIT_SECONDS, driver_info=None,
        )
        client = _redis_async[loop] = redis.asyncio.Redis.from_pool(pool)
    return client


@contextmanager
def credential_lock(credential_id: int) -> Iterator[None]:
    held, mine = _held.get(), (credential_id, _owner())
    if mine in held:
        yield
        return
    token = _held.set(held | {mine})
    try:
        if settings.REDIS_URL:
            lock = _sync_redis().lock(
                _lock_name(credential_id), timeout=LOCK_TTL_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS, sleep=0.01
            )
            if not lock.acquire():
                raise _busy(credential_id)
            try:
                yield
            finally:
                _release_quietly(lock)
        else:
            lock = FileLock(_lock_path(credential_id), timeout=LOCK_WAIT_SECONDS)
            try:
                lock.acquire(poll_interval=0.005)
            except Timeout:
                raise _busy(credential_id) from None
            try:
                yield
            finally:
                lock.release()
    finally:
        _held.reset(token)


def _release_quietly(lock) -> None:
    from redis.exceptions import LockError

    with suppress(LockError):  # expired while held: the TTL is the last line of defence, nothing to undo
        lock.release()


@asynccontextmanager
async def async_credential_lock(credential_id: int) -> AsyncIterator[None]:
    held, mine = _held.get(), (credential_id, _owner())
    if mine in held:
        yield
        return
    token = _held.set(held | {mine})
    try:
        if settings.REDIS_URL:
            lock = _async_redis().lock(
                _lock_name(credential_id), timeout=LOCK_TTL_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS, sleep=0.01
            )
            if not await lock.acquire():
                raise _busy(credential_id)
            try:
                yield
            finally:
                from redis.exceptions import LockError

                with suppress(LockError):
                    await lock.release()
        else:
            # Non-blocking attempts with an asyncio sleep between them: the event loop keeps
            # serving other credentials while this one is busy.
            lock = FileLock(_lock_path(credential_id), timeout=0, thread_local=False)
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    lock.acquire(timeout=0)
                    break
                except Timeout:
                    if time.monotonic() > deadline:
                        raise _busy(credential_id) from None
                    await asyncio.sleep(0.005)
            try:
                yield
            finally:
                lock.release()
    finally:
        _held.reset(token)
