"""One request at a time per credential, across threads, tasks and processes.

Kraken (and others) reject a request whose nonce is not larger than the previous one, so two
concurrent calls on one key fail with "invalid nonce". Every client call takes this lock. With
REDIS_URL it is a Redis lock (shared by every machine); without it, an flock'ed file in var/locks/
(shared by every process on this machine, which is all the embedded mode has). The lock is
re-entrant within one thread or asyncio task, so a caller holding it may call the client.

A fan-out that calls many credentials at once (the copy engine's chunk) takes all their locks
together with `credential_locks_hold`: one Redis round trip for the whole chunk instead of two per
call. Inside the block, calls on a held credential (from any task of the block) queue on a local
asyncio lock instead, so they still go one at a time."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

from django.conf import settings
from filelock import FileLock, Timeout

from .base import BrokerUnavailableError

LOCK_TTL_SECONDS = 120  # a Redis lock whose holder died expires after this
LOCK_WAIT_SECONDS = 60  # how long a caller waits for a busy credential before giving up (nothing sent)
# A block's locks are renewed while it runs, so their TTL can be short: a killed worker's chunk
# frees its credentials within this, before a waiting caller gives up.
BLOCK_LOCK_TTL_SECONDS = 30

# (credential id, owner) pairs held by the current thread or task. The owner matters: child tasks
# and threads copy this context, and must wait for the lock rather than share their parent's.
_held: contextvars.ContextVar[frozenset[tuple[int, tuple]]] = contextvars.ContextVar(
    "nija_credential_locks", default=frozenset()
)


# Credentials whose locks an enclosing credential_locks_hold block holds, each with the local lock
# its calls queue on. Tasks started inside the block copy this context, so they see it too.
_block_held: contextvars.ContextVar[dict[int, asyncio.Lock] | None] = contextvars.ContextVar(
    "nija_credential_block_locks", default=None
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
        block = _block_held.get()
        if block and credential_id in block:
            async with block[credential_id]:
                yield
        elif settings.REDIS_URL:
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


# Take each key that is free (SET NX with a TTL), in one round trip; returns 1/0 per key.
_TAKE_ALL = """
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then taken[i] = 1 else taken[i] = 0 end
end
return taken
"""
# Extend (ARGV[2] = TTL in ms) or, with ARGV[2] = 0, delete the keys that still hold our token.
_KEEP_OR_DROP = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', key, ARGV[2]) else redis.call('DEL', key) end
    n = n + 1
  end
end
return n
"""


@asynccontextmanager
async def credential_locks_hold(credential_ids: set[int] | list[int]) -> AsyncIterator[set[int]]:
    """Take the locks of every free credential among `credential_ids` at once, for the length of
    the block; yields the ids taken. A credential another holder has is not waited for here: its
    calls take its lock one by one as usual. Nothing is sent while taking, so a busy credential
    delays only its own orders. With Redis, the TTL is renewed while the block runs."""
    ids = sorted(set(credential_ids) - set(_block_held.get() or {}))
    taken: set[int] = set()
    files: list[FileLock] = []
    keeper = None
    token = uuid.uuid4().hex
    if ids and settings.REDIS_URL:
        keys = [_lock_name(i) for i in ids]
        flags = await _async_redis().eval(_TAKE_ALL, len(keys), *keys, token, int(BLOCK_LOCK_TTL_SECONDS * 1000))
        taken = {i for i, flag in zip(ids, flags, strict=True) if flag}
        if taken:
            keeper = asyncio.get_running_loop().create_task(_keep_alive([_lock_name(i) for i in taken], token))
    else:
        for credential_id in ids:
            lock = FileLock(_lock_path(credential_id), timeout=0, thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            files.append(lock)
            taken.add(credential_id)
    context = _block_held.set({**(_block_held.get() or {}), **{i: asyncio.Lock() for i in taken}})
    try:
        yield taken
    finally:
        _block_held.reset(context)
        if keeper is not None:
            from redis.exceptions import RedisError

            keeper.cancel()
            with suppress(asyncio.CancelledError, RedisError):
                await keeper
            keys = [_lock_name(i) for i in taken]
            with suppress(RedisError):  # unreachable Redis: the TTL frees them
                await _async_redis().eval(_KEEP_OR_DROP, len(keys), *keys, token, 0)
        for lock in files:
            lock.release()


async def _keep_alive(keys: list[str], token: str) -> None:
    """Renew the block's locks every third of their TTL, so a long block never loses them."""
    while True:
        await asyncio.sleep(BLOCK_LOCK_TTL_SECONDS / 3)
        await _async_redis().eval(_KEEP_OR_DROP, len(keys), *keys, token, int(BLOCK_LOCK_TTL_SECONDS * 1000))
