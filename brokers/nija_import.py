"""Migrate an existing NIJA bot installation: its users (config/users/*.json) and the API keys it
kept in environment variables ({VENUE}_USER_{FIRSTNAME}_API_KEY ..., {VENUE}_MASTER_... or
{VENUE}_PLATFORM_...). A plan is built first (and is all that --dry-run shows); applying it goes
through the normal services, so accounts and keys are validated, encrypted and audited. Running it
again with the same inputs changes nothing."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from accounts.choices import AccountType
from accounts.selectors import account_get, account_master, accounts_by_user_id
from accounts.services import account_onboard, account_trading_enable
from core.actors import Actor
from core.errors import ApplicationError

from .crypto import credential_secrets
from .selectors import credential_find
from .services import credential_add, venue_validate

USER_KEY_RE = re.compile(r"^([A-Z0-9]+)_USER_([A-Z0-9]+)_API_KEY$")
MASTER_KEY_RE = re.compile(r"^([A-Z0-9]+)_(MASTER|PLATFORM)_API_KEY$")
TRUE = {"1", "true", "yes", "on"}
MASTER_USER_ID = "nija_master"


@dataclass
class PlannedCredential:
    user_id: str
    venue: str
    env_prefix: str
    paper: bool
    action: str = "add"  # add | replace | unchanged


@dataclass
class PlannedUser:
    user_id: str
    name: str
    account_type: str
    enabled: bool
    master: bool = False
    action: str = "create"  # create | exists


@dataclass
class ImportPlan:
    users: list[PlannedUser] = field(default_factory=list)
    credentials: list[PlannedCredential] = field(default_factory=list)
    without_credentials: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(u.action == "create" for u in self.users) + sum(c.action != "unchanged" for c in self.credentials)

    def lines(self) -> list[str]:
        out = [f"{'create' if u.action == 'create' else 'keep  '} account {u.user_id}"
               f"{' (MASTER)' if u.master else ''}{' trading on' if u.enabled and u.action == 'create' else ''}"
               for u in self.users]
        out += [f"{c.action:<9} credential {c.user_id} {c.venue}/default{' (paper)' if c.paper else ''} "
                f"from {c.env_prefix}_*" for c in self.credentials]
        out += [f"no credentials for {user_id}" for user_id in self.without_credentials]
        return out


def env_file_read(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; comments, blank lines and `export ` prefixes allowed; quotes stripped."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def users_read(config_dir: Path) -> list[dict]:
    for candidate in (config_dir / "config" / "users", config_dir / "users", config_dir):
        files = sorted(candidate.glob("*.json")) if candidate.is_dir() else []
        if files:
            break
    else:
        raise ApplicationError(f"no config/users/*.json under {config_dir}")
    users = []
    for path in files:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ApplicationError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        entries = data.get("users", []) if isinstance(data, dict) else data
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("user_id"):
                raise ApplicationError(f"{path.name}: every entry needs a user_id")
            users.append(entry)
    return users


def _first_name_prefix(user_id: str) -> str:
    return re.split(r"[_\-.]", user_id)[0].upper()


def import_plan_build(*, users: list[dict], env: dict[str, str]) -> ImportPlan:
    plan = ImportPlan()
    by_user: dict[str, dict] = {}
    for entry in users:
        by_user.setdefault(entry["user_id"].strip().lower(), entry)
    prefixes: dict[str, list[str]] = defaultdict(list)
    for user_id in by_user:
        prefixes[_first_name_prefix(user_id)].append(user_id)
    env_user_keys = [(m.group(1), m.group(2)) for m in (USER_KEY_RE.match(k) for k in env) if m]
    for venue, prefix in env_user_keys:
        owners = prefixes.get(prefix, [])
        if len(owners) > 1:
            raise ApplicationError(
                f"{venue}_USER_{prefix}_API_KEY is ambiguous: first name '{prefix}' matches both "
                f"{owners[0]} and {owners[1]}; rename one variable or user before importing"
            )
    existing = accounts_by_user_id(user_ids=list(by_user) + [MASTER_USER_ID])
    master = account_master()

    master_keys = [(m.group(1), m.group(2)) for m in (MASTER_KEY_RE.match(k) for k in sorted(env)) if m]
    seen_master_venues = set()
    for venue, kind in master_keys:
        if venue in seen_master_venues:  # MASTER_ wins over PLATFORM_ (sorted order: MASTER first)
            continue
        seen_master_venues.add(venue)
        if master is None and not any(u.master for u in plan.users):
            plan.users.append(PlannedUser(user_id=MASTER_USER_ID, name="NIJA Master", account_type="investor",
                                          enabled=True, master=True))
        plan.credentials.append(_planned_credential(
            master.user_id if master else MASTER_USER_ID, venue, f"{venue}_{kind}", env,
        ))

    for user_id, entry in by_user.items():
        account_type = str(entry.get("account_type") or "retail").lower()
        plan.users.append(PlannedUser(
            user_id=user_id, name=str(entry.get("name") or user_id),
            action="exists" if user_id in existing else "create",
            account_type=account_type if account_type in AccountType.values else "retail",
            enabled=bool(entry.get("enabled", False)),
        ))
        prefix = _first_name_prefix(user_id)
        venues = sorted({v for v, p in env_user_keys if p == prefix})
        if not venues:
            plan.without_credentials.append(user_id)
        for venue in venues:
            plan.credentials.append(_planned_credential(user_id, venue, f"{venue}_USER_{prefix}", env))
    return plan


def _planned_credential(user_id: str, venue: str, env_prefix: str, env: dict[str, str]) -> PlannedCredential:
    paper = env.get(f"{env_prefix}_PAPER", "").strip().lower() in TRUE
    venue = venue_validate(venue)
    planned = PlannedCredential(user_id=user_id, venue=venue.lower(), env_prefix=env_prefix, paper=paper)
    current = credential_find(user_id=user_id, venue=planned.venue, label="default")
    if current is not None:
        secrets = credential_secrets(current)
        same = (secrets.api_key, secrets.api_secret, secrets.passphrase, current.is_paper) == (
            env.get(f"{env_prefix}_API_KEY", "").strip(), env.get(f"{env_prefix}_API_SECRET", "").strip(),
            env.get(f"{env_prefix}_PASSPHRASE", "").strip(), paper,
        )
        planned.action = "unchanged" if same else "replace"
    return planned


def import_plan_apply(*, actor: Actor, plan: ImportPlan, env: dict[str, str], verify: bool = True) -> int:
    """Apply a plan; returns the number of changes made. Keys are checked (verify) like any other."""
    for planned in plan.credentials:
        if not env.get(f"{planned.env_prefix}_API_SECRET"):
            raise ApplicationError(f"{planned.env_prefix}_API_KEY is set but {planned.env_prefix}_API_SECRET is not")
    changes = 0
    for user in plan.users:
        if user.action != "create":
            continue
        account = account_onboard(
            actor=actor, user_id=user.user_id, full_name=user.name, email=f"{user.user_id}@nija.invalid",
            account_type=user.account_type, master=user.master,
        )
        if user.enabled:
            account_trading_enable(actor=actor, account=account, reason="imported from NIJA (enabled)")
        changes += 1
    for planned in plan.credentials:
        if planned.action == "unchanged":
            continue
        account = account_get(user_id=planned.user_id)
        credential_add(
            actor=actor, account=account, venue=planned.venue, label="default", paper=planned.paper, verify=verify,
            api_key=env.get(f"{planned.env_prefix}_API_KEY", ""),
            api_secret=env.get(f"{planned.env_prefix}_API_SECRET", ""),
            passphrase=env.get(f"{planned.env_prefix}_PASSPHRASE", ""), reason="imported from NIJA",
        )
        changes += 1
    return changes
