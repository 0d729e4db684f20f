"""One key, one request at a time: two worker processes hammer two PAPER credentials. Calls on one
credential never overlap (that is what prevents Kraken's "invalid nonce"), while the two
credentials are served in parallel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from brokers.clients.locks import async_credential_lock, credential_lock
from brokers.paper_venue import paper_behaviour_set
from tests.conftest import subprocess_env

WORKER = Path(__file__).with_name("lock_worker.py")


def _run_workers(tmp_path: Path, credential_ids: list[int], env: dict[str, str]) -> list[dict]:
    go = tmp_path / "go"
    procs, outs, readies = [], [], []
    for n in range(2):
        out, ready = tmp_path / f"out-{n}.json", tmp_path / f"ready-{n}"
        outs.append(out)
        readies.append(ready)
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), str(out), str(ready), str(go), *map(str, credential_ids)], env=env,
        ))
    try:
        deadline = time.monotonic() + 90
        while not all(r.exists() for r in readies):
            assert all(p.poll() is None for p in procs), "a worker died while starting"
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.05)
        go.touch()
        for proc in procs:
            assert proc.wait(timeout=90) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return [record for out in outs for record in json.loads(out.read_text())]


def _assert_serial_per_credential_and_parallel_across(records: list[dict], a: int, b: int) -> None:
    for credential in (a, b):
        calls = sorted((r for r in records if r["credential"] == credential), key=lambda r: r["start"])
        assert len(calls) == 6
        assert {r["pid"] for r in calls} == {records[0]["pid"], records[-1]["pid"]}  # both processes used it
        for earlier, later in zip(calls, calls[1:], strict=False):
            assert earlier["end"] <= later["start"], f"calls on credential {credential} overlapped"
    a_calls = [r for r in records if r["credential"] == a]
    b_calls = [r for r in records if r["credential"] == b]
    overlapping = [(x, y) for x in a_calls for y in b_calls if x["start"] < y["end"] and y["start"] < x["end"]]
    assert overlapping, "different credentials never ran at the same time"


@pytest.fixture
def two_slow_credentials(transactional_db, paper_credential):
    a, b = paper_credential(), paper_credential()
    for credential in (a, b):
        paper_behaviour_set(credential=credential, latency_ms=150)
    return a.pk, b.pk


def test_file_lock_serializes_one_credential_across_processes(two_slow_credentials, tmp_path):
    a, b = two_slow_credentials
    records = _run_workers(tmp_path, [a, b], subprocess_env(REDIS_URL=""))
    _assert_serial_per_credential_and_parallel_across(records, a, b)


def test_redis_lock_serializes_one_credential_across_processes(two_slow_credentials, tmp_path, redis_url):
    a, b = two_slow_credentials
    records = _run_workers(tmp_path, [a, b], subprocess_env(REDIS_URL=redis_url))
    _assert_serial_per_credential_and_parallel_across(records, a, b)


def test_lock_is_reentrant_in_one_thread_and_task(db):
    with credential_lock(99), credential_lock(99):
        pass

    async def nested():
        async with async_credential_lock(98), async_credential_lock(98):
            return True

    assert async_to_sync(nested)()


def test_async_lock_waits_for_a_holder_in_another_thread(db):
    import threading

    events: list[str] = []
    held = threading.Event()
    release = threading.Event()

    def holder():
        with credential_lock(97):
            events.append("held")
            held.set()
            release.wait(5)
            events.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)

    async def waiter():
        import asyncio

        asyncio.get_running_loop().call_later(0.2, release.set)
        async with async_credential_lock(97):
            events.append("acquired")

    async_to_sync(waiter)()
    thread.join()
    assert events == ["held", "released", "acquired"]


def test_child_tasks_do_not_share_their_parents_lock(db):
    import asyncio

    order: list[str] = []

    async def child():
        async with async_credential_lock(96):
            order.append("child")

    async def parent():
        async with async_credential_lock(96):
            task = asyncio.ensure_future(child())
            await asyncio.sleep(0.05)
            order.append("parent done")
        await task

    async_to_sync(parent)()
    assert order == ["parent done", "child"]


# --- a chunk's locks, taken together (credential_locks_hold) -------------------------------------
@pytest.fixture(params=["file", "redis"])
def lock_backend(request, settings, monkeypatch):
    from brokers.clients import locks

    settings.REDIS_URL = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    monkeypatch.setattr(locks, "LOCK_WAIT_SECONDS", 0.3)  # a caller shut out gives up quickly
    return request.param


def _try_lock_from_another_thread(credential_id: int) -> str:
    import threading

    from brokers.clients.base import BrokerUnavailableError

    seen: list[str] = []

    def attempt() -> None:
        try:
            with credential_lock(credential_id):
                seen.append("got it")
        except BrokerUnavailableError:
            seen.append("busy")

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(10)
    return seen[0]


def test_a_block_holds_every_free_credential_until_it_ends(db, lock_backend):
    import asyncio

    from brokers.clients.locks import credential_locks_hold

    async def chunk() -> tuple[set[int], list[str]]:
        async with credential_locks_hold([81, 82, 82]) as taken:
            outside = [await asyncio.to_thread(_try_lock_from_another_thread, i) for i in (81, 82)]
            async with async_credential_lock(81), async_credential_lock(82):  # inside: no wait
                pass
        return taken, outside

    taken, outside = async_to_sync(chunk)()
    assert taken == {81, 82}
    assert outside == ["busy", "busy"]
    assert [_try_lock_from_another_thread(i) for i in (81, 82)] == ["got it", "got it"]  # released at the end


def test_a_credential_busy_elsewhere_is_locked_per_call_as_usual(db, lock_backend):
    import asyncio
    import threading

    from brokers.clients.locks import credential_locks_hold

    held, release = threading.Event(), threading.Event()
    events: list[str] = []

    def holder() -> None:
        with credential_lock(83):
            held.set()
            release.wait(5)
            events.append("holder released 83")

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)

    async def chunk() -> set[int]:
        async with credential_locks_hold({83, 84}) as taken:
            asyncio.get_running_loop().call_later(0.1, release.set)
            async with async_credential_lock(83):  # waits for the holder, then takes it per call
                events.append("chunk called 83")
        return taken

    taken = async_to_sync(chunk)()
    thread.join(5)
    assert taken == {84}
    assert events == ["holder released 83", "chunk called 83"]


def test_tasks_of_a_block_take_turns_on_one_credential(db, lock_backend):
    import asyncio
    import time as clock

    from brokers.clients.locks import credential_locks_hold

    spans: list[tuple[float, float]] = []

    async def call() -> None:
        async with async_credential_lock(85):
            started = clock.monotonic()
            await asyncio.sleep(0.05)
            spans.append((started, clock.monotonic()))

    async def chunk() -> None:
        async with credential_locks_hold({85}):
            await asyncio.gather(call(), call(), call())

    async_to_sync(chunk)()
    spans.sort()
    assert len(spans) == 3
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))


def test_a_long_block_keeps_its_redis_locks_alive(db, settings, redis_url, monkeypatch):
    import asyncio

    import redis

    from brokers.clients import locks

    settings.REDIS_URL = redis_url
    monkeypatch.setattr(locks, "BLOCK_LOCK_TTL_SECONDS", 0.3)  # renewed every 0.1 s
    server = redis.Redis.from_url(redis_url)

    async def chunk() -> int:
        async with locks.credential_locks_hold({86}):
            await asyncio.sleep(0.8)  # well past the TTL
            return server.pttl(locks._lock_name(86))

    ttl_at_the_end = async_to_sync(chunk)()
    assert 0 < ttl_at_the_end <= 300
    assert not server.exists(locks._lock_name(86))
