"""Migrate an existing NIJA bot installation as it is today.

Sources, all read in one run (README "Importing a NIJA installation" has the formats and the mapping):
- array files (`retail_kraken.json`, `investor_alpaca.json`, ...): a JSON list (or {"users": [...]}) of
  entries with a user_id, one per user and broker;
- per-user object files (`daivon_frazier.json`): one JSON object, the user id is the file name;
- per-user YAML files (`daivon_frazier.yaml`) that may embed the user's API key and secret;
- the env file (or the environment): {VENUE}_USER_{FIRSTNAME}_* or {VENUE}_USER_{FIRSTNAME_LASTNAME}_*, and
  {VENUE}_MASTER_* / {VENUE}_PLATFORM_* for the master.

Everything is read and checked before anything is written: a duplicate key inside one object, two files
that disagree on a user (unless --prefer names the file that wins), a full-name and a first-name variable
with different values (unless --prefer-full-name), or a malformed file is refused with the file, user and
field named. The plan lists every decision; applying it goes through the normal services, so accounts and
keys are validated, encrypted, permission-checked and audited. Running it again changes nothing."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.choices import AccountKind, AccountType
from accounts.risk import instrument_list_clean
from accounts.selectors import account_master, accounts_by_user_id
from accounts.services import account_onboard, account_trading_enable, risk_profile_update, user_id_check
from brokers.choices import CredentialStatus
from brokers.crypto import credential_secrets
from brokers.selectors import credential_find
from brokers.services import credential_add, credential_status_set, venue_validate
from core.actors import Actor
from core.errors import ApplicationError

from .selectors import copy_settings_for
from .services import copy_settings_update

if TYPE_CHECKING:
    from accounts.models import Account

MASTER_USER_ID = "nija_master"
IMPORT_REASON = "imported from NIJA"
USER_VAR_RE = re.compile(r"^([A-Z0-9]+)_USER_([A-Z0-9_]+)_(API_KEY|API_SECRET|PASSPHRASE|PAPER)$")
MASTER_VAR_RE = re.compile(r"^([A-Z0-9]+)_(MASTER|PLATFORM)_(API_KEY|API_SECRET|PASSPHRASE|PAPER)$")
KEY_PARTS = ("API_KEY", "API_SECRET", "PASSPHRASE", "PAPER")
ROLES = {"user": AccountKind.USER, "platform": AccountKind.MASTER, "master": AccountKind.MASTER}
# Fields NIJA uses that mean nothing to the back office: listed in the plan with their value.
NOTE_FIELDS = {"description", "mode", "notes", "comment"}
YAML_KEY_FIELDS = {"api_key": "api_key", "api_secret": "api_secret", "passphrase": "passphrase",
                   "api_passphrase": "passphrase"}
MAX_NAME, MAX_EMAIL = 200, 254  # Account.full_name and Account.email lengths


class ImportRefused(ApplicationError):
    """One or more problems in the installation; nothing was written."""


# --- reading files --------------------------------------------------------------------------
def _text_read(path: Path, *, label: str | None = None) -> str:
    """UTF-8 text (a BOM is allowed); a NUL byte or undecodable bytes are refused, naming the place."""
    label = label or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ApplicationError(f"{label}: cannot be read ({exc.strerror})") from None
    if b"\x00" in data:
        raise ApplicationError(f"{label}: contains a NUL byte (line {data[:data.index(0)].count(10) + 1})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(10) + 1
        raise ApplicationError(f"{label}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None


def env_file_read(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; comments, blank lines and `export ` prefixes allowed; quotes stripped."""
    values = {}
    for raw in _text_read(path).splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class _DuplicateKey(Exception):
    def __init__(self, key: str, owner: str | None, line: int | None = None):
        super().__init__(key)
        self.key, self.owner, self.line = key, owner, line


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: a JSON parser silently keeps the last of two equal keys; we refuse them."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            owner = next((v for k, v in pairs if k == "user_id" and isinstance(v, str)), None)
            raise _DuplicateKey(key, owner)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key written twice in one mapping (YAML keeps the last silently)."""


def _yaml_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a key is not a plain value",
                                                    key_node.start_mark) from None
        if duplicate:
            raise _DuplicateKey(str(key), None, key_node.start_mark.line + 1)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _yaml_mapping)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _structured_read(path: Path) -> Any:
    """Parse one JSON or YAML file, refusing duplicate keys, NaN/Infinity and NUL characters.
    Messages carry the position, never the file's text (a YAML file may hold a secret)."""
    text = _text_read(path)
    try:
        if path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_pairs, parse_float=Decimal,
                              parse_constant=_no_constant)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        where = f"the entry of {exc.owner}" if exc.owner else f"user {path.stem}" if path.suffix != ".json" \
            or not text.lstrip().startswith("[") else "an entry"
        line = f" (line {exc.line})" if exc.line else ""
        raise ApplicationError(f"{path.name}: duplicate key '{exc.key}' in {where}{line}; a parser keeps only one "
                               "of the two values, so remove the one that is wrong") from None
    except json.JSONDecodeError as exc:
        raise ApplicationError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") \
            from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ApplicationError(f"{path.name}: not valid YAML ({exc.problem or exc.context}"
                               f"{f' at line {mark.line + 1}' if mark else ''})") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise ApplicationError(f"{path.name}: not valid {path.suffix[1:].upper()} ({exc})") from None
    except RecursionError:
        raise ApplicationError(f"{path.name}: nested too deeply") from None
    try:
        has_nul = _has_nul(data)
    except RecursionError:  # a YAML alias that contains itself (a: &a [*a]); found by the command fuzz
        raise ApplicationError(f"{path.name}: nested too deeply, or a value refers to itself") from None
    if has_nul:
        raise ApplicationError(f"{path.name}: a value contains a NUL character")
    return data


def users_dir_find(config_dir: Path) -> Path:
    for candidate in (config_dir / "config" / "users", config_dir / "users", config_dir):
        if candidate.is_dir() and _config_files(candidate):
            return candidate
    raise ApplicationError(f"no config/users/*.json (or *.yaml) under {config_dir}")


def _config_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in {".json", ".yaml", ".yml"})


# --- facts: what each file says ---------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    value: Any
    source: str  # file name
    field: str  # the NIJA field(s) it came from


@dataclass(frozen=True)
class KeySet:
    """API keys for one user at one venue, from one place. Secrets are never shown (repr off)."""

    origin: str  # file name or variable prefix, as the plan shows it
    source: str  # the file (for --prefer): a YAML file's name or the env file's
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)
    paper: bool = False

    def same_keys(self, other: KeySet) -> bool:
        return (self.api_key, self.api_secret, self.passphrase, self.paper) == (
            other.api_key, other.api_secret, other.passphrase, other.paper)

    def differing(self, other: KeySet) -> str:
        names = [n for n in ("api_key", "api_secret", "passphrase", "paper") if getattr(self, n) != getattr(other, n)]
        return ", ".join(names)


@dataclass
class UserFacts:
    user_id: str
    fields: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))
    brokers: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))  # venue -> enabled facts
    keys: dict[str, list[KeySet]] = field(default_factory=lambda: defaultdict(list))  # venue -> key sets
    ignored: list[str] = field(default_factory=list)
    yaml_files_with_keys: list[str] = field(default_factory=list)


class _Problems(list):
    def add(self, message: str) -> None:
        if message not in self:
            self.append(message)


def _strict_bool(value: Any) -> bool:
    """true/false as JSON/YAML booleans or the strings "true"/"false"; anything else is an error
    (`"enabled": "false"` must not turn trading on)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError(f"must be true or false, not {json.dumps(value, default=str)}")


def _multiplier(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValueError(f"must be a number, not {json.dumps(value, default=str)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"must be a number, not {json.dumps(value, default=str)}") from None
    if not number.is_finite() or number <= 0 or number > 1000:
        raise ValueError(f"must be a positive number up to 1000, not {value}")
    return number


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _entry_read(entry: dict, *, facts: UserFacts, source: str, is_yaml: bool, default_broker: str | None,
                default_type: str | None, problems: _Problems) -> None:
    """Turn one NIJA object into facts about its user; every field is mapped, listed as ignored, or an error."""
    where = f"{source}: {facts.user_id}"

    def bad(name: str, message: str) -> None:
        problems.add(f"{where}: '{name}' {message}")

    broker_fields = {k: entry[k] for k in ("broker", "broker_type") if k in entry}
    venue = None
    if broker_fields:
        names = {str(v).strip().lower() for v in broker_fields.values()}
        if len(names) > 1 or not all(isinstance(v, str) for v in broker_fields.values()):
            bad("broker", f"and 'broker_type' disagree or are not names: {_shown(broker_fields)}")
        else:
            try:
                venue = venue_validate(names.pop())
            except ApplicationError as exc:
                bad(next(iter(broker_fields)), str(exc))
    elif default_broker:
        venue = default_broker

    copy_facts: list[tuple[str, bool]] = []
    key_values: dict[str, str] = {}
    for name, value in entry.items():
        try:
            if name in ("user_id", "broker", "broker_type"):
                continue
            if name == "name":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("must be a non-empty text")
                if len(value.strip()) > MAX_NAME:
                    raise ValueError(f"is longer than {MAX_NAME} characters")
                facts.fields["name"].append(Fact(value.strip(), source, name))
            elif name == "email":
                if not isinstance(value, str) or len(value.strip()) > MAX_EMAIL:
                    raise ValueError(f"must be an e-mail address of at most {MAX_EMAIL} characters")
                try:
                    validate_email(value.strip())
                except ValidationError:
                    raise ValueError(f"is not a valid e-mail address: {_shown(value)}") from None
                facts.fields["email"].append(Fact(value.strip(), source, name))
            elif name == "account_type":
                kind = value.strip().lower() if isinstance(value, str) else value
                if kind not in AccountType.values:
                    raise ValueError(f"must be one of {', '.join(AccountType.values)}, not {_shown(value)}")
                facts.fields["account_type"].append(Fact(kind, source, name))
            elif name == "role":
                role = value.strip().lower() if isinstance(value, str) else value
                if role not in ROLES:
                    raise ValueError(f"must be one of {', '.join(ROLES)}, not {_shown(value)}")
                facts.fields["kind"].append(Fact(ROLES[role], source, name))
            elif name == "enabled":
                enabled = _strict_bool(value)
                if venue is None:
                    raise ValueError("needs a broker (broker or broker_type) to say which credential it enables")
                facts.brokers[venue].append(Fact(enabled, source, name))
            elif name in ("copy_from_platform", "copy_from_master"):
                copy_facts.append((name, _strict_bool(value)))
            elif name == "independent_trading":
                copy_facts.append((name, not _strict_bool(value)))
            elif name == "active_trading":
                facts.fields["active_trading"].append(Fact(_strict_bool(value), source, name))
            elif name == "risk_multiplier":
                facts.fields["multiplier"].append(Fact(_multiplier(value), source, name))
            elif name == "disabled_symbols":
                try:
                    symbols = instrument_list_clean(value, field=name)
                except ApplicationError as exc:
                    raise ValueError(str(exc)) from None
                facts.fields["blocked_instruments"].append(Fact(tuple(sorted(symbols)), source, name))
            elif is_yaml and name in YAML_KEY_FIELDS:
                if not isinstance(value, str):
                    raise ValueError("must be a quoted text (an unquoted value may be read as a number)")
                key_values[YAML_KEY_FIELDS[name]] = value.strip()
            elif is_yaml and name == "paper":
                key_values["paper"] = "true" if _strict_bool(value) else ""
            elif name.startswith("_") or name in NOTE_FIELDS:
                facts.ignored.append(f"{name}={_shown(value)} ({source})")
            else:  # unknown: the name only, as its value could be anything (even a key)
                facts.ignored.append(f"{name} ({source}, not a NIJA field the back office knows)")
        except ValueError as exc:
            bad(name, str(exc))

    if copy_facts:
        values = {v for _, v in copy_facts}
        if len(values) > 1:
            said = ", ".join(f"{n}: {json.dumps(v if n != 'independent_trading' else not v)}" for n, v in copy_facts)
            problems.add(f"{where}: the copy switch is contradictory ({said}); fix the file")
        else:
            facts.fields["copy_enabled"].append(Fact(values.pop(), source, "/".join(n for n, _ in copy_facts)))
    if default_type and "account_type" not in entry:
        facts.fields["account_type"].append(Fact(default_type, source, "file name"))

    if key_values.get("api_key") or key_values.get("api_secret"):
        if venue is None:
            problems.add(f"{where}: API keys need a broker to say which venue they are for")
        elif not key_values.get("api_key") or not key_values.get("api_secret"):
            problems.add(f"{where}: has only one of api_key and api_secret")
        else:
            facts.keys[venue].append(KeySet(origin=source, source=source, api_key=key_values["api_key"],
                                            api_secret=key_values["api_secret"],
                                            passphrase=key_values.get("passphrase", ""),
                                            paper=bool(key_values.get("paper"))))
            facts.yaml_files_with_keys.append(source)


def _user_id_clean(raw: Any, *, source: str, problems: _Problems, where: str) -> str | None:
    if not isinstance(raw, str):
        problems.add(f"{source}: {where} has user_id {_shown(raw)}; a user_id is a quoted text like \"jane_smith\"")
        return None
    user_id = raw.strip().lower()
    try:
        user_id_check(user_id)
    except ApplicationError as exc:
        problems.add(f"{source}: {where}: user_id '{raw}': {exc}")
        return None
    return user_id


def config_read(users_dir: Path, problems: _Problems) -> tuple[dict[str, UserFacts], list[str]]:
    """Every config file's facts by user. Returns (facts by user_id, names of the files read)."""
    users: dict[str, UserFacts] = {}
    names = []
    for path in _config_files(users_dir):
        names.append(path.name)
        try:
            data = _structured_read(path)
        except ApplicationError as exc:
            problems.add(str(exc))
            continue
        is_yaml = path.suffix != ".json"
        if isinstance(data, dict) and isinstance(data.get("users"), list) and not is_yaml:
            data = data["users"]
        if isinstance(data, list):  # an array file: one entry per user, for this file's broker
            if is_yaml:
                problems.add(f"{path.name}: a YAML user file holds one user (a mapping), not a list")
                continue
            type_part, _, broker_part = path.stem.partition("_")
            default_type = type_part if type_part in AccountType.values else None
            default_broker = broker_part if default_type and broker_part and "_" not in broker_part else None
            file_broker = None  # retail_kraken.json: entries without a broker_type are for kraken
            if default_broker:
                try:
                    file_broker = venue_validate(default_broker)
                except ApplicationError:
                    default_broker = None
            seen: set[tuple[str, str | None]] = set()
            for number, entry in enumerate(data, start=1):
                if not isinstance(entry, dict):
                    problems.add(f"{path.name}: entry {number} is not an object")
                    continue
                user_id = _user_id_clean(entry.get("user_id"), source=path.name, problems=problems,
                                         where=f"entry {number}")
                if user_id is None:
                    continue
                broker = str(entry.get("broker_type", entry.get("broker", default_broker))).lower()
                if (user_id, broker) in seen:
                    problems.add(f"{path.name}: {user_id} is listed twice for {broker}")
                    continue
                seen.add((user_id, broker))
                facts = users.setdefault(user_id, UserFacts(user_id))
                _entry_read(entry, facts=facts, source=path.name, is_yaml=False, problems=problems,
                            default_broker=file_broker, default_type=default_type)
        elif isinstance(data, dict):  # a per-user file: the user is the file name unless it says otherwise
            user_id = _user_id_clean(data.get("user_id", path.stem), source=path.name, problems=problems,
                                     where="the file")
            if user_id is None:
                continue
            facts = users.setdefault(user_id, UserFacts(user_id))
            _entry_read(data, facts=facts, source=path.name, is_yaml=is_yaml, problems=problems,
                        default_broker=None, default_type=None)
        elif data is None:
            problems.add(f"{path.name}: the file is empty (an empty list file is written [])")
        else:
            problems.add(f"{path.name}: expected a list of users or one user object, not {type(data).__name__}")
    return users, names


# --- env keys ---------------------------------------------------------------------------------
def _env_groups(env: dict[str, str], regex: re.Pattern) -> dict[tuple[str, str], dict[str, str]]:
    groups: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for name, value in env.items():
        match = regex.match(name)
        if match:
            groups[(match.group(1), match.group(2))][match.group(3)] = value.strip()
    return groups


def _keyset_from_env(prefix: str, parts: dict[str, str], *, env_source: str, problems: _Problems) -> KeySet | None:
    if not parts.get("API_KEY") or not parts.get("API_SECRET"):
        present = "_API_KEY" if parts.get("API_KEY") else "_API_SECRET" if parts.get("API_SECRET") else None
        if present:
            missing = "_API_SECRET" if present == "_API_KEY" else "_API_KEY"
            problems.add(f"{env_source}: {prefix}{present} is set but {prefix}{missing} is not")
        return None
    paper = parts.get("PAPER", "").lower()
    if paper not in {"", "true", "false", "1", "0", "yes", "no"}:
        problems.add(f"{env_source}: {prefix}_PAPER must be true or false")
    return KeySet(origin=f"{prefix}_*", source=env_source, api_key=parts["API_KEY"], api_secret=parts["API_SECRET"],
                  passphrase=parts.get("PASSPHRASE", ""), paper=paper in {"true", "1", "yes"})


def _name_prefixes(user_id: str) -> tuple[str, str]:
    full = re.sub(r"[^A-Z0-9]+", "_", user_id.upper()).strip("_")
    return full, full.split("_")[0]


# --- the plan ---------------------------------------------------------------------------------
@dataclass
class PlannedCredential:
    user_id: str
    venue: str
    keys: KeySet
    enabled: bool
    enabled_why: str
    action: str = "add"  # add | replace | unchanged
    status_change: bool = False  # the stored key is the same but its enabled state changes

    @property
    def paper(self) -> bool:
        return self.keys.paper

    @property
    def changes(self) -> bool:
        return self.action != "unchanged" or self.status_change


@dataclass
class PlannedUser:
    user_id: str
    name: str
    account_type: str
    email: str
    trading: bool
    master: bool = False
    action: str = "create"  # create | update | exists
    copy_changes: dict[str, Any] = field(default_factory=dict)  # wanted copy settings (applied where they differ)
    venue_enabled: dict[str, bool | None] = field(default_factory=dict)  # broker entries: venue -> enabled
    blocked: list[str] = field(default_factory=list)  # instruments to add to the blocklist
    decisions: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return self.action in ("create", "update")


@dataclass
class ImportPlan:
    users: list[PlannedUser] = field(default_factory=list)
    credentials: list[PlannedCredential] = field(default_factory=list)
    without_credentials: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    yaml_files_with_keys: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(u.changes for u in self.users) + sum(c.changes for c in self.credentials)

    def lines(self) -> list[str]:
        out = []
        for u in self.users:
            head = {"create": "create", "update": "update", "exists": "keep  "}[u.action]
            out.append(f"{head} account {u.user_id}{' (MASTER)' if u.master else ''} {u.account_type} "
                       f"\"{u.name}\" <{u.email}>")
            out += [f"    {line}" for line in u.decisions]
        for c in self.credentials:
            state = "enabled" if c.enabled else "DISABLED"
            action = "status" if c.action == "unchanged" and c.status_change else c.action
            out.append(f"{action:<9} credential {c.user_id} {c.venue}/default{' (paper)' if c.paper else ''} "
                       f"from {c.keys.origin}: {state} ({c.enabled_why})")
        out += [f"no credentials for {user_id}" for user_id in self.without_credentials]
        out += [f"note: {line}" for line in self.notes]
        return out


def _resolve(facts: list[Fact], *, what: str, user_id: str, prefer: list[str], problems: _Problems,
             decisions: list[str]) -> Fact | None:
    """The single value the files agree on; on a disagreement the first --prefer file that says it wins."""
    if not facts:
        return None
    values = {f.value for f in facts}
    if len(values) == 1:
        return facts[0]
    preferred = sorted((f for f in facts if f.source in prefer), key=lambda f: prefer.index(f.source))
    said = "; ".join(f"{f.source} says {f.field} {_shown(_plain(f.value))}" for f in facts)
    if not preferred:
        problems.add(f"{user_id}: files disagree on {what} ({said}); fix one, or pass --prefer FILE")
        return None
    winner = preferred[0]
    decisions.append(f"{what}: {_shown(_plain(winner.value))} from {winner.source} (--prefer) over the others "
                     f"({said})")
    return winner


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _sources(facts: list[Fact], *, with_value: bool = False) -> str:
    return ", ".join(dict.fromkeys(f"{f.field}{f': {json.dumps(f.value)}' if with_value else ''} in {f.source}"
                                   for f in facts))


def import_plan_build(*, config_dir: Path, env: dict[str, str], env_source: str = "environment",
                      prefer: list[str] | None = None, prefer_full_name: bool = False) -> ImportPlan:
    """Read everything and decide everything; raises ImportRefused listing every problem, writing nothing."""
    problems = _Problems()
    users_dir = users_dir_find(config_dir)
    facts_by_user, file_names = config_read(users_dir, problems)
    prefer = [_prefer_name(p, users_dir=users_dir, file_names=file_names, env_source=env_source, problems=problems)
              for p in (prefer or [])]
    plan = ImportPlan()
    master = account_master()
    existing = accounts_by_user_id(user_ids=[*facts_by_user, MASTER_USER_ID, *([master.user_id] if master else [])])

    # Who is the master: a file with role platform/master, else the registry's, else nija_master.
    kinds = {u: _resolve(f.fields["kind"], what="role", user_id=u, prefer=prefer, problems=problems, decisions=[])
             for u, f in facts_by_user.items()}
    config_masters = sorted(u for u, fact in kinds.items() if fact and fact.value == AccountKind.MASTER)
    if len(config_masters) > 1:
        problems.add(f"{' and '.join(config_masters)} both have role platform/master; there is one master")
    if config_masters and master and master.user_id != config_masters[0]:
        problems.add(f"{config_masters[0]} has role master, but the registry's master is {master.user_id}")
    for user_id, fact in kinds.items():
        if user_id in existing and fact and (fact.value == AccountKind.MASTER) != existing[user_id].is_master:
            problems.add(f"{fact.source}: {user_id} has role {'master' if fact.value == 'MASTER' else 'user'} but "
                         f"is a {existing[user_id].kind} account in the registry")
    master_id = config_masters[0] if config_masters else (master.user_id if master else MASTER_USER_ID)

    # Keys from the env file: users by full or first name, the master by MASTER_/PLATFORM_.
    user_groups = _env_groups(env, USER_VAR_RE)
    first_names: dict[str, list[str]] = defaultdict(list)
    for user_id in facts_by_user:
        first_names[_name_prefixes(user_id)[1]].append(user_id)
    used_groups: set[tuple[str, str]] = set()
    env_keys: dict[str, dict[str, KeySet]] = defaultdict(dict)  # user -> venue -> keys
    env_decisions: dict[str, list[str]] = defaultdict(list)
    for user_id in facts_by_user:
        full, first = _name_prefixes(user_id)
        for venue in sorted({v for v, _ in user_groups}):
            has_full, has_first = (venue, full) in user_groups, (venue, first) in user_groups and full != first
            if not has_full and not has_first:
                continue
            chosen = full if has_full else first
            if has_full and has_first:
                used_groups.add((venue, first))
                a, b = user_groups[(venue, full)], user_groups[(venue, first)]
                differ = [p for p in KEY_PARTS if a.get(p, "") != b.get(p, "")]
                if differ and not prefer_full_name:
                    problems.add(f"{env_source}: {user_id}: {venue}_USER_{full}_* and {venue}_USER_{first}_* are both "
                                 f"set with different {', '.join(differ)}; remove one, or pass --prefer-full-name")
                    continue
                env_decisions[user_id].append(
                    f"{venue}_USER_{full}_* used; {venue}_USER_{first}_* "
                    + ("differs and is ignored (--prefer-full-name)" if differ else "holds the same values"))
            elif has_first and len(first_names[first]) > 1:
                others = sorted(first_names[first])
                problems.add(f"{venue}_USER_{first}_API_KEY is ambiguous: first name '{first}' matches both "
                             f"{others[0]} and {others[1]}; use {venue}_USER_{{FIRSTNAME_LASTNAME}}_* variables or "
                             "rename one user before importing")
                continue
            used_groups.add((venue, chosen))
            keys = _keyset_from_env(f"{venue}_USER_{chosen}", user_groups[(venue, chosen)], env_source=env_source,
                                    problems=problems)
            if keys:
                env_keys[user_id][_venue_or_problem(venue, problems, f"{venue}_USER_{chosen}_*")] = keys
    for venue, name in sorted(set(user_groups) - used_groups):
        if user_groups[(venue, name)].get("API_KEY"):
            plan.notes.append(f"{venue}_USER_{name}_* matches no configured user; not imported")

    master_groups = _env_groups(env, MASTER_VAR_RE)
    for venue in sorted({v for v, _ in master_groups}):
        found = {kind: master_groups[(venue, kind)] for kind in ("MASTER", "PLATFORM")
                 if (venue, kind) in master_groups}
        if len(found) == 2:
            differ = [p for p in KEY_PARTS if found["MASTER"].get(p, "") != found["PLATFORM"].get(p, "")]
            if differ:
                problems.add(f"{env_source}: {venue}_MASTER_* and {venue}_PLATFORM_* are both set with different "
                             f"{', '.join(differ)}; remove one")
                continue
        kind = "MASTER" if "MASTER" in found else "PLATFORM"
        keys = _keyset_from_env(f"{venue}_{kind}", found[kind], env_source=env_source, problems=problems)
        venue_id = _venue_or_problem(venue, problems, f"{venue}_{kind}_*")
        other = env_keys[master_id].get(venue_id)
        if keys and other and not other.same_keys(keys):
            problems.add(f"{env_source}: {master_id}: {other.origin} and {keys.origin} hold different {venue_id} keys "
                         f"({other.differing(keys)} differ); remove one")
        elif keys:
            env_keys[master_id][venue_id] = keys

    # One planned account per user, every field resolved.
    planned_ids = list(facts_by_user)
    if env_keys.get(master_id) and master_id not in facts_by_user:
        planned_ids.insert(0, master_id)
    for user_id in planned_ids:
        facts = facts_by_user.get(user_id, UserFacts(user_id))
        is_master = user_id == master_id and (kinds.get(user_id) is None or kinds[user_id].value == AccountKind.MASTER)
        planned = _user_plan(facts, existing=existing.get(user_id), is_master=is_master, prefer=prefer,
                             problems=problems)
        planned.decisions += env_decisions.get(user_id, [])
        plan.users.append(planned)
        venues = sorted(set(env_keys.get(user_id, {})) | set(facts.keys))
        for venue in venues:
            candidates = ([env_keys[user_id][venue]] if venue in env_keys.get(user_id, {}) else []) + facts.keys[venue]
            keys = _keys_resolve(candidates, user_id=user_id, venue=venue, prefer=prefer, problems=problems,
                                 decisions=planned.decisions)
            if keys is None:
                continue
            enabled = planned.venue_enabled.get(venue)
            why = ("no broker entry in the config" if enabled is None
                   else _sources(facts.brokers[venue], with_value=True))
            plan.credentials.append(_credential_plan(user_id, venue, keys, enabled is not False, why))
        without = sorted(set(facts.brokers) - set(venues))
        if not venues:
            plan.without_credentials.append(user_id)
        elif without:
            plan.notes.append(f"{user_id}: no API keys for {', '.join(without)}")
        plan.yaml_files_with_keys += facts.yaml_files_with_keys
    if problems:
        raise ImportRefused("import refused, nothing written: " + "; ".join(problems),
                            extra={"problems": list(problems)})
    return plan


def _venue_or_problem(venue: str, problems: _Problems, origin: str) -> str:
    try:
        return venue_validate(venue)
    except ApplicationError as exc:
        problems.add(f"{origin}: {exc}")
        return venue.lower()


def _prefer_name(raw: str, *, users_dir: Path, file_names: list[str], env_source: str, problems: _Problems) -> str:
    """--prefer takes a path or a bare file name; the result is the name facts carry as their source."""
    path = Path(raw)
    if path.name == env_source or raw == env_source:
        return env_source
    if path.name in file_names and (path.parent == Path(".") or path.resolve().parent == users_dir.resolve()):
        return path.name
    problems.add(f"--prefer {raw}: not one of the files this import reads")
    return raw


def _keys_resolve(candidates: list[KeySet], *, user_id: str, venue: str, prefer: list[str], problems: _Problems,
                  decisions: list[str]) -> KeySet | None:
    first = candidates[0]
    if all(first.same_keys(other) for other in candidates[1:]):
        if len(candidates) > 1:
            decisions.append(f"{venue} keys: {' and '.join(c.origin for c in candidates)} hold the same key")
        return first
    preferred = sorted((c for c in candidates if c.source in prefer), key=lambda c: prefer.index(c.source))
    names = " and ".join(c.origin for c in candidates)
    differ = ", ".join(sorted({first.differing(o) for o in candidates[1:] if not first.same_keys(o)}))
    if not preferred:
        problems.add(f"{user_id}: {names} hold different {venue} keys ({differ} differ); remove one, or pass "
                     "--prefer FILE")
        return None
    decisions.append(f"{venue} keys from {preferred[0].origin} (--prefer) over {names} ({differ} differ)")
    return preferred[0]


def _user_plan(facts: UserFacts, *, existing: Account | None, is_master: bool, prefer: list[str],
               problems: _Problems) -> PlannedUser:
    user_id, decisions = facts.user_id, []

    def resolve(name: str, what: str) -> Fact | None:
        return _resolve(facts.fields.get(name, []), what=what, user_id=user_id, prefer=prefer, problems=problems,
                        decisions=decisions)

    name, email, account_type = resolve("name", "name"), resolve("email", "e-mail"), resolve("account_type", "type")
    copy, multiplier = resolve("copy_enabled", "copy switch"), resolve("multiplier", "copy multiplier")
    blocked, active = resolve("blocked_instruments", "blocked instruments"), resolve("active_trading", "active")
    enabled_venues = {}
    for venue, venue_facts in sorted(facts.brokers.items()):
        fact = _resolve(venue_facts, what=f"{venue} enabled", user_id=user_id, prefer=prefer, problems=problems,
                        decisions=decisions)
        enabled_venues[venue] = fact.value if fact else None
    on = sorted(v for v, e in enabled_venues.items() if e)
    trading = bool(on) and not (active is not None and active.value is False)
    if is_master and not facts.brokers:
        trading = True  # the master trades; NIJA's env-only master has no broker entry
    planned = PlannedUser(
        user_id=user_id, master=is_master,
        name=name.value if name else ("NIJA Master" if is_master and user_id == MASTER_USER_ID
                                      else user_id.replace("_", " ").title()),
        email=email.value if email else f"{user_id}@nija.invalid",
        account_type=account_type.value if account_type else ("investor" if is_master else "retail"),
        trading=trading, decisions=decisions, venue_enabled=enabled_venues,
    )
    decisions.insert(0, "name: " + (_sources(facts.fields["name"]) if name else "not configured; made from the id"))
    decisions.insert(1, "e-mail: " + (_sources(facts.fields["email"]) if email else "not configured; a placeholder"))
    decisions.insert(2, f"type {planned.account_type}: " + (_sources(facts.fields["account_type"]) if account_type
                                                          else "not configured; the default"))
    if facts.brokers:
        states = ", ".join(f"{v} {'enabled' if e else 'disabled'}" for v, e in sorted(enabled_venues.items()))
        reason = (f"{states}" + (f"; active_trading false ({active.source})" if active and active.value is False
                                 else ""))
    else:
        reason = "the master" if is_master else "no broker entry"
    decisions.append(f"trading {'on' if trading else 'off'}: {reason}")
    wanted: dict[str, Any] = {}
    if copy is not None:
        wanted["copy_enabled"] = copy.value
        decisions.append(f"copy switch {'on' if copy.value else 'off'}: {_sources(facts.fields['copy_enabled'])}")
    else:
        decisions.append("copy switch: not configured; on (the default)")
    if multiplier is not None:
        wanted["multiplier"] = multiplier.value
        decisions.append(f"copy multiplier {multiplier.value}: {_sources(facts.fields['multiplier'])}")
    blocked_list = list(blocked.value) if blocked else []
    if blocked_list:
        decisions.append(f"blocked instruments {', '.join(blocked_list)}: "
                         f"{_sources(facts.fields['blocked_instruments'])}")
    decisions += [f"ignored: {line}" for line in facts.ignored]

    planned.copy_changes = wanted
    if existing is None:
        planned.blocked = blocked_list
        return planned
    planned.action = "exists"
    current = copy_settings_for(account=existing)
    planned.copy_changes = {k: v for k, v in wanted.items() if getattr(current, k) != v}
    profile = getattr(existing, "risk_profile", None)
    already = list(profile.blocked_instruments) if profile else []
    planned.blocked = [s for s in blocked_list if s not in already]  # the import adds blocks, never lifts one
    if planned.copy_changes or planned.blocked:
        planned.action = "update"
    for label, fact, theirs in (("name", name, existing.full_name), ("e-mail", email, existing.email),
                                ("type", account_type, existing.account_type)):
        ours = fact.value if fact else None
        if fact and ours != theirs:
            decisions.append(f"{label} in the registry is kept ({theirs!r}; the config says {ours!r})")
    if trading != existing.trading_enabled:
        decisions.append(f"trading stays {'on' if existing.trading_enabled else 'off'} (existing account; the config "
                         f"says {'on' if trading else 'off'}: use set_trading)")
    return planned


def _credential_plan(user_id: str, venue: str, keys: KeySet, enabled: bool, why: str) -> PlannedCredential:
    planned = PlannedCredential(user_id=user_id, venue=venue, keys=keys, enabled=enabled, enabled_why=why)
    current = credential_find(user_id=user_id, venue=venue)
    if current is not None:
        secrets = credential_secrets(current)
        stored = KeySet(origin="", source="", api_key=secrets.api_key, api_secret=secrets.api_secret,
                        passphrase=secrets.passphrase, paper=current.is_paper)
        planned.action = "unchanged" if stored.same_keys(keys) else "replace"
        active = current.status in (CredentialStatus.ACTIVE, CredentialStatus.UNVERIFIED)
        planned.status_change = planned.action == "unchanged" and active != enabled
    return planned


# --- applying it --------------------------------------------------------------------------------
def import_plan_apply(*, actor: Actor, plan: ImportPlan, verify: bool = True) -> int:
    """Apply a plan (the caller holds one transaction); returns the number of changes made."""
    changes = 0
    for user in plan.users:
        if user.action == "create":
            account = account_onboard(
                actor=actor, user_id=user.user_id, full_name=user.name, email=user.email,
                account_type=user.account_type, master=user.master,
                risk_overrides={"blocked_instruments": user.blocked} if user.blocked else None,
            )
            if user.trading:
                account_trading_enable(actor=actor, account=account, reason=f"{IMPORT_REASON} (enabled)")
        elif user.action == "update":
            account = accounts_by_user_id(user_ids=[user.user_id])[user.user_id]
            if user.blocked:
                current = list(account.risk_profile.blocked_instruments)
                risk_profile_update(actor=actor, account=account, reason=IMPORT_REASON,
                                    changes={"blocked_instruments": current + user.blocked})
        else:
            continue
        current = copy_settings_for(account=account)
        copy_changes = {k: v for k, v in user.copy_changes.items() if getattr(current, k) != v}
        if copy_changes:
            copy_settings_update(actor=actor, account=account, reason=IMPORT_REASON, **copy_changes)
        changes += 1
    accounts = accounts_by_user_id(user_ids=[c.user_id for c in plan.credentials])
    for planned in plan.credentials:
        if not planned.changes:
            continue
        account = accounts[planned.user_id]
        if planned.action != "unchanged":
            credential = credential_add(
                actor=actor, account=account, venue=planned.venue, label="default", paper=planned.paper,
                verify=verify, api_key=planned.keys.api_key, api_secret=planned.keys.api_secret,
                passphrase=planned.keys.passphrase, reason=IMPORT_REASON,
            )
        else:
            credential = credential_find(account=account, venue=planned.venue)
        status = CredentialStatus.ACTIVE if planned.enabled else CredentialStatus.DISABLED
        credential_status_set(actor=actor, credential=credential, status=status,
                              reason=f"{IMPORT_REASON}: {planned.enabled_why}")
        changes += 1
    return changes
