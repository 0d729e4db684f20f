"""Issue 11 §2: hypothesis fuzz of every management command's arguments and input files. The
commands come from Django's registry (every command of a project app), so a new command is fuzzed
without anyone adding it. For each generated call: it succeeds, or it is refused with a CommandError
(one line on stderr and a non-zero exit from manage.py); any other exception is a failure, and a
refused call writes nothing (every table's checksum equal before and after). Each example runs in a
savepoint rolled back afterwards; the network is closed (only local services answer)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokers.services import credential_add
from reporting.services import ledger_import_csv
from tests.checksums import changed_tables, table_checksums

pytestmark = pytest.mark.django_db

# Commands not fuzzed, each with its reason. Only commands that start long-running processes belong here.
SKIP = {
    "run_backoffice": "starts the web server, a Celery worker and beat, and runs until stopped",
}
PROJECT_APPS = {config.name for config in apps.get_app_configs()
                if Path(config.path).is_relative_to(django_settings.BASE_DIR)
                and ".venv" not in Path(config.path).parts}
COMMANDS = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS and name not in SKIP)
# Django's own options on every command: not the command's input.
BASE_OPTIONS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color",
                "skip_checks"}
CALL_SECONDS = 20  # one call longer than this is a hang (an unbounded wait or loop), reported as a failure

HOSTILE = ["", " ", "\x00", "a\x00b", "x" * 300, "caf\udce9", "１２", "-1", "0", "1e30", "1e-30", "NaN", "inf",
           "9" * 40, "--", "me", "master", "../../etc/passwd", "' OR 1=1 --"]
POOLS = {  # plausible values by what the argument names, so calls get past the first check
    "user": ["daivon_frazier", "nija_master", "master", "me", "ghost", "olga"],
    "username": ["olga", "daivon_frazier", "nobody"],
    "venue": ["paper", "kraken", "okx", "alpaca", "nosuchvenue"],
    "asset": ["USD", "BTC", "ETH", "usd"], "currency": ["USD", "EUR", "BTC"],
    "symbol": ["BTC/USD", "ETH/USD", "BTC-USD", "XRP"],
    "amount": ["1", "0.5", "1000", "0.00000001", "12345678901234567890.123"],
    "price": ["50000", "0.5", "1"], "capital": ["1000", "0"], "rate": ["0.2", "0.02", "1", "1.5"],
    "fraction": ["0.5", "1", "2"],
    "date": ["2026-01-05", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31"],
    "since": ["2026-01-01", "2026-02-30"], "from": ["2026-01-01", "2025-01-01"], "to": ["2026-01-31", "2026-02-30"],
    "occurred": ["2026-01-05T09:00:00Z", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00Z"],
    "executed": ["2026-01-05T09:00:00Z", "9999-12-31T23:59:59Z"],
    "year": ["2026", "2025", "0", "10000", "-1"],
    "kind": ["deposit", "withdrawal", "trade", "fee", "bogus"],
    "reason": ["operator checked it", "", " "],
    "name": ["Daivon Frazier", "nightly export"], "email": ["new@example.com", "not-an-email", "a" * 250 + "@x.io"],
    "phone": ["+1 555 0100", "1" * 40], "label": ["default", "second", "bad label!"],
    "id": ["1", "2", "999999", "-1", "abc"], "mode": ["off", "observe", "live"],
    "days": ["1", "90", "0", "100000"], "concurrency": ["1", "4", "0", "-1", "100000000"],
    "wait": ["0", "1", "-1", "601"], "timeout": ["0", "0.5", "nan", "inf", "-1", "1e9"],
    "side": ["buy", "sell"], "type": ["market", "limit"], "addr": ["127.0.0.1:0"],
}
CSV_HEADER = b"occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
CSV_FILES = [
    CSV_HEADER + b"2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,fz-1\n",
    CSV_HEADER + b"2026-01-05T09:00:00Z,deposit,paper,USD,1e30,,,,,fz-2\n",
    CSV_HEADER + b"2026-01-05T09:00:00Z,deposit,paper,USD,10\x00,,,,,fz-3\n",
    CSV_HEADER + b"2026-01-05T09:00:00Z,deposit,paper,\xff\xfe,10,,,,,fz-4\n",
    CSV_HEADER + b"2026-02-30T09:00:00Z,deposit,paper,USD,10,,,,,fz-5\n",
    CSV_HEADER + b"2026-01-05T09:00:00Z,trade,paper,BTC,0.0000000000000000001,USD,-1,,,fz-6\n",
    CSV_HEADER + b"2026-01-05T09:00:00Z,deposit," + b"v" * 100 + b",USD,10,,,,,fz-7\n",
    b"", b"\xef\xbb\xbf" + CSV_HEADER, b"a,b\n1,2,3\n", b"\x00\x00\x00",
]
JSON_FILES = [
    b'[{"user_id": "fz_user", "name": "Fz User", "account_type": "retail", "broker_type": "kraken", "enabled": true}]',
    b'[{"user_id": 5, "name": "Int Id"}]', b'[{"user_id": "fz", "enabled": "false"}]',
    b'[{"user_id": "fz", "enabled": "no"}]', b'{"users": "nope"}', b'{"name": "A", "name": "B"}',
    b'[{"user_id": "' + b"u" * 300 + b'"}]', b'[{"user_id": "fz\\u0000x"}]', b"\xff\xfe[]", b"[" * 5000,
    b'{"risk_multiplier": "1e30", "broker": "kraken"}', b'{"disabled_symbols": [1, null, {}]}', b"[]", b"",
]
YAML_FILES = [b"broker: kraken\napi_key: k\napi_secret: s\n", b"broker: [unclosed\n", b"a: &a [*a]\n",
              b"broker: kraken\nbroker: okx\n", b"api_key: \"\\0\"\n", b"!!python/object:os.system ls\n"]
ENV_FILES = [b"KRAKEN_USER_DAIVON_API_KEY=k1\nKRAKEN_USER_DAIVON_API_SECRET=s1\n", b"KRAKEN_USER_DAIVON_API_KEY=\x00\n",
             b"\xff\xfe=1\n", b"NOEQUALS\n", b"KRAKEN_MASTER_API_KEY=a\nKRAKEN_PLATFORM_API_KEY=b\n", b""]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=24))


def _pool(action) -> list[str]:
    words = (action.dest + " " + " ".join(action.option_strings)).lower().replace("-", "_").split("_")
    return [value for word, values in POOLS.items() if word in words for value in values]


def _value(action, files: Path) -> st.SearchStrategy:
    dest = action.dest
    if dest in ("csv_path",):
        return st.sampled_from(CSV_FILES).map(lambda content: _file(files, "ledger.csv", content)) | st.just("-")
    if dest == "config_dir":
        return st.lists(st.tuples(st.sampled_from(["retail_kraken.json", "daivon_frazier.json", "fz_user.json",
                                                   "daivon_frazier.yaml"]),
                                  st.sampled_from(JSON_FILES + YAML_FILES)), max_size=3).map(
            lambda entries: _config_dir(files, entries)) | st.sampled_from(["/nonexistent", ""])
    if dest in ("env_file", "prefer"):
        return st.sampled_from(ENV_FILES).map(lambda content: _file(files, "nija.env", content)) | TEXT
    if action.choices:
        return st.sampled_from([*map(str, action.choices), "BOGUS", ""])
    pool = _pool(action)
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), TEXT) if pool else TEXT


def _file(files: Path, name: str, content: bytes) -> str:
    path = Path(tempfile.mkdtemp(dir=files)) / name
    path.write_bytes(content)
    return str(path)


def _config_dir(files: Path, entries: list[tuple[str, bytes]]) -> str:
    root = Path(tempfile.mkdtemp(dir=files))
    (root / "config" / "users").mkdir(parents=True)
    for name, content in entries:
        (root / "config" / "users" / name).write_bytes(content)
    return str(root)


@st.composite
def command_call(draw, name: str, files: Path) -> tuple[list[str], dict[str, str], str]:
    """argv for one call of `name`, the environment variables it may read, and its stdin."""
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    argv: list[str] = []
    own = [action for action in parser._actions if action.dest not in BASE_OPTIONS]
    for action in own:
        if not action.option_strings:  # positional: almost always given
            if draw(st.integers(0, 9)):
                argv.append(draw(_value(action, files)))
            continue
        # required options nearly always, others one time in two
        if not draw(st.integers(0, 9) if action.required else st.booleans()):
            continue
        if action.nargs == 0:
            argv.append(action.option_strings[0])
        else:
            argv += [action.option_strings[-1], draw(_value(action, files))]
    if not own or draw(st.integers(0, 9)) == 0:  # unknown arguments (the only input of a command without any)
        argv += draw(st.lists(st.sampled_from(["--bogus", "extra", "-x", "\x00"]), min_size=1, max_size=2))
    env = {}
    if "--from-env" in argv:
        prefix = argv[argv.index("--from-env") + 1]
        if prefix.isidentifier():
            for suffix in ("API_KEY", "API_SECRET", "PASSPHRASE"):
                value = draw(st.sampled_from(["fz-key-1234", "", "x" * 500, "caf\u00e9"]))
                env[f"{prefix}_{suffix}"] = value
    stdin = draw(st.sampled_from(["", "fz-key-5678\nfz-secret-5678\n\n", "\x00\n\x00\n", "k\n"]))
    return argv, env, stdin


class Hung(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def stop(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _stdin(text: str):
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


@pytest.fixture
def closed_network(monkeypatch):
    """Only local services (the database, Redis) answer; an exchange call fails as it would offline."""
    connect = socket.socket.connect

    def local_only(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(address, tuple) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"network closed in the command fuzz: {host}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.setattr(socket, "getaddrinfo", _local_getaddrinfo(socket.getaddrinfo))


def _local_getaddrinfo(getaddrinfo):
    def resolve(host, *args, **kwargs):
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            raise socket.gaierror(f"network closed in the command fuzz: {host}")
        return getaddrinfo(host, *args, **kwargs)

    return resolve


@pytest.fixture
def registry(make_account, closed_network, tmp_path):
    """A small registry for the commands to work on: the MASTER, an investor with a PAPER key and a
    ledger, and an operator login."""
    make_account("nija_master", master=True)
    investor = make_account("daivon_frazier")
    credential_add(actor="test", account=investor, venue="paper", api_key="paper-fz", api_secret="paper-fz")
    ledger_import_csv(actor="test", account=investor, text=CSV_FILES[0].decode())
    operator = User.objects.create_user("olga", password="pw-fuzz-olga", is_staff=True)
    operator.groups.add(Group.objects.get(name="operator"))
    return tmp_path


def test_every_project_command_is_fuzzed_or_skipped_with_a_reason():
    names = {name for name, app in get_commands().items() if app in PROJECT_APPS}
    assert len(COMMANDS) >= 30 and names == set(COMMANDS) | set(SKIP)
    assert all(SKIP.values())


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_accepts_or_refuses_in_one_line_and_a_refusal_writes_nothing(name, registry):
    command = load_command_class(get_commands()[name], name)

    @settings(max_examples=5, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(call=command_call(name, registry))
    def run(call):
        argv, env, stdin = call
        # a command that reads stdin names it in stealth_options; the others get it as sys.stdin
        streams = {"stdin": io.StringIO(stdin)} if "stdin" in command.stealth_options else {}
        with transaction.atomic():
            before = table_checksums()
            stdout, stderr = io.StringIO(), io.StringIO()
            try:
                with _environ(env), _time_limit(CALL_SECONDS), contextlib.redirect_stdout(stdout), \
                        _stdin(stdin):
                    call_command(name, *argv, stdout=stdout, stderr=stderr, **streams)
            except CommandError as refused:
                message = str(refused).strip()
                assert message and "\n" not in message and "Traceback" not in message, (argv, message)
                assert changed_tables(before, table_checksums()) == [], (argv, message)
            transaction.set_rollback(True)

    run()
