"""Hostile input at the API, the portal and the commands: a clear 4xx (or one line on stderr and a
non-zero exit), in the project's error shape, and nothing written. Never a 5xx or a traceback."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from accounts.models import Account
from compliance.models import AuditEvent
from reporting.services import ledger_import_csv

pytestmark = pytest.mark.django_db

CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n")


@pytest.fixture
def investor_client(client, make_account):
    user = User.objects.create_user("daivon", password="pw")
    account = make_account("daivon_frazier")
    account.portal_user = user
    account.save(update_fields=["portal_user"])
    ledger_import_csv(actor="test", account=account, text=CSV)
    client.force_login(user)
    return client


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["error"]


@pytest.mark.parametrize("path", [
    "/api/v1/accounts/%00/positions",
    "/api/v1/accounts/daivon%00frazier/transactions",
    "/api/v1/accounts/..%2F..%2Fetc/positions",
    "/api/v1/accounts/%00/reports/1",
])
def test_user_ids_that_are_not_slugs_are_404_in_the_error_shape(investor_client, path):
    response = investor_client.get(path)
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


@pytest.mark.parametrize("query", [
    "period=daily&date=2026-02-30", "period=daily&date=2026-13-01", "period=daily&date=0001-01-01",
    "period=daily&date=9999-12-31", "period=daily&date=9999-12-30", "period=daily&date=%00",
])
def test_performance_dates_outside_the_calendar_or_the_bounds_are_400(investor_client, query):
    response = investor_client.get(f"/api/v1/accounts/me/performance?{query}")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid" and "date" in error["message"]


@pytest.mark.parametrize(("query", "says"), [
    ("from=2026-02-30", "not a day in the calendar"),
    ("from=2026-03-01&to=2026-02-01", "is before from"),
    ("from=2000-01-01", "longer than 3660 days"),
    ("to=9999-12-31", "after today"),
])
def test_fee_statement_ranges_are_bounded(investor_client, query, says):
    response = investor_client.get(f"/api/v1/accounts/me/fees?{query}")
    assert response.status_code == 400 and says in _error(response)["message"]


@pytest.mark.parametrize("year", ["0", "-1", "10000", "abc", "1999", "２０２５", "%00"])
def test_tax_years_outside_the_bounds_are_400(investor_client, year):
    response = investor_client.get(f"/api/v1/accounts/me/tax?year={year}")
    assert response.status_code == 400 and "year" in _error(response)["message"]


def test_a_valid_year_still_answers(investor_client):
    assert investor_client.get("/api/v1/accounts/me/tax?year=2026").status_code == 200


def test_unknown_api_urls_and_wrong_methods_answer_in_the_error_shape(investor_client):
    missing = investor_client.get("/api/v1/no-such-endpoint")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = investor_client.delete("/api/v1/accounts/me/positions")
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"


def test_an_unexpected_error_is_logged_with_a_request_id_and_answers_without_a_stack(investor_client, monkeypatch,
                                                                                        caplog):
    def crash(**kwargs):
        raise RuntimeError("secret internal detail at db.internal:5432")

    monkeypatch.setattr("reporting.api.views.transactions_export", crash)
    with caplog.at_level(logging.ERROR, logger="nija.api"):
        response = investor_client.get("/api/v1/accounts/me/transactions", HTTP_X_REQUEST_ID="req-12345678")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "server_error" and error["request_id"] == "req-12345678"
    assert "db.internal" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert response["X-Request-ID"] == "req-12345678"
    assert any("req-12345678" in r.getMessage() and r.exc_info for r in caplog.records)


def test_every_response_carries_a_request_id(client):
    assert len(client.get("/healthz")["X-Request-ID"]) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"] != "bad id with spaces"


def test_portal_with_a_nul_user_id_is_404_not_500(investor_client):
    assert investor_client.get("/portal/?user_id=%00").status_code == 404


# --- commands: one line, non-zero exit, nothing written --------------------------------------
ONBOARD = ["onboard_user", "--user-id", "new_user", "--name", "New User", "--email", "new@example.com"]


def _refused(*args, match: str) -> None:
    accounts, events = Account.objects.count(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match=match):
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert (Account.objects.count(), AuditEvent.objects.count()) == (accounts, events)


@pytest.mark.parametrize(("replace", "value", "match"), [
    ("--name", "N" * 201, r"name is too long \(201 characters; at most 200\)"),
    ("--email", "a" * 250 + "@example.com", "email is too long"),
    ("--name", "New\x00User", "name must not contain NUL characters"),
])
def test_onboard_user_refuses_text_the_columns_cannot_hold(replace, value, match):
    args = list(ONBOARD)
    args[args.index(replace) + 1] = value
    _refused(*args, match=match)


def test_onboard_user_refuses_a_phone_too_long_and_capital_beyond_the_precision():
    _refused(*ONBOARD, "--phone", "1" * 33, match="phone is too long")
    _refused(*ONBOARD, "--initial-capital", "1e30", match="initial capital: 1E[+]30 is too large")


@pytest.mark.parametrize("reserved", ["me", "master"])
def test_reserved_aliases_are_refused_as_user_ids(reserved):
    args = list(ONBOARD)
    args[args.index("--user-id") + 1] = reserved
    _refused(*args, match=f"'{reserved}' is reserved")


def test_report_commands_refuse_impossible_years_and_days(make_account):
    make_account("daivon_frazier")
    _refused("tax_report", "daivon_frazier", "--year", "0", match="--year '0' is not a year")
    _refused("tax_report", "daivon_frazier", "--year", "10000", match="--year '10000' is not a year")
    _refused("generate_reports", "--period", "daily", "--date", "2026-02-30", match="not a day in the calendar")
    _refused("generate_reports", "--period", "daily", "--date", "9999-12-31", match="after today")


# --- found by the command fuzz (tests/core/test_command_fuzz.py) -----------------------------
@pytest.mark.parametrize(("day", "says"), [("0001-01-01", "is before 2000-01-01"), ("9999-12-31", "after today")])
def test_track_user_performance_refuses_days_outside_the_bounds(make_account, day, says):
    make_account("daivon_frazier")
    _refused("track_user_performance", "daivon_frazier", "--period", "weekly", "--date", day, match=says)


@pytest.mark.parametrize("value", ["caf\udce9", "olga\x00"])
def test_command_arguments_that_no_column_can_hold_are_refused_before_anything_runs(value):
    _refused("reset_two_factor", value, "--reason", "lost phone", match="username (is not valid UTF-8|must not)")
    _refused(*ONBOARD[:-1], f"new{value}@example.com", match="email (is not valid UTF-8|must not)")


# --- found by the schema fuzz (tests/core/test_api_schema_fuzz.py) ---------------------------
@pytest.mark.parametrize(("path", "says"), [
    ("/api/v1/accounts/me/fees?from=&to=", "from is empty"),
    ("/api/v1/accounts/me/tax?year=", "year is empty"),
    ("/api/v1/accounts/me/performance?date=", "date is empty"),
    ("/api/v1/accounts/me/positions?method=", "method must be one of fifo, lifo, hifo"),
    ("/api/v1/accounts/me/positions?method=FIFO", "method must be one of"),
])
def test_a_parameter_given_empty_or_off_the_list_is_400_not_the_default(investor_client, path, says):
    response = investor_client.get(path)
    assert response.status_code == 400 and says in _error(response)["message"]


@pytest.mark.parametrize("fmt", ["", "xml", "AAA"])
def test_the_schema_refuses_a_format_it_does_not_serve_in_the_error_shape(investor_client, fmt):
    response = investor_client.get(f"/api/v1/schema/?format={fmt}")
    assert response.status_code == 400 and "format must be one of json, yaml" in _error(response)["message"]
    assert investor_client.get("/api/v1/schema/?format=json").status_code == 200


# --- named in issue 11 §1, one test each (walk of the list) ---------------------------
LEDGER_HEADER = CSV.splitlines()[0].encode() + b"\n"


@pytest.mark.parametrize(("row", "says"), [
    (b"2026-01-05T09:00:00Z,deposit,paper,USD,10\x00,,,,,d-9\n", "nothing imported"),
    (b"2026-01-05T09:00:00Z,deposit,paper,caf\xe9,10,,,,,d-9\n", "not UTF-8 text (byte 0xe9 on line 2)"),
])
def test_import_ledger_refuses_nul_bytes_and_non_utf8_in_the_csv(make_account, tmp_path, row, says):
    make_account("daivon_frazier")
    path = tmp_path / "ledger.csv"
    path.write_bytes(LEDGER_HEADER + row)
    assert says in _refused_one_line("import_ledger", "daivon_frazier", "--csv", str(path))


def _refused_one_line(*args) -> str:
    accounts, events = Account.objects.count(), AuditEvent.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert (Account.objects.count(), AuditEvent.objects.count()) == (accounts, events)
    message = str(refused.value)
    assert message and "\n" not in message
    return message


def test_amounts_beyond_the_precision_are_refused_by_the_commands(make_account):
    make_account("daivon_frazier")
    assert "too large" in _refused_one_line("paper_fund", "daivon_frazier", "--asset", "USD", "--amount", "1e20")
    assert "too large" in _refused_one_line("record_ledger_entry", "daivon_frazier", "--kind", "deposit",
                                            "--venue", "paper", "--asset", "USD", "--amount", "1e20",
                                            "--reason", "fuzz")


def test_an_asset_or_venue_longer_than_its_column_is_refused_by_the_commands(make_account):
    make_account("daivon_frazier")
    assert "asset" in _refused_one_line("paper_fund", "daivon_frazier", "--asset", "A" * 40, "--amount", "1")
    assert "venue" in _refused_one_line("record_ledger_entry", "daivon_frazier", "--kind", "deposit",
                                        "--venue", "v" * 80, "--asset", "USD", "--amount", "1", "--reason", "x")


def test_import_nija_config_refuses_a_yaml_alias_that_contains_itself(tmp_path):
    users = tmp_path / "config" / "users"
    users.mkdir(parents=True)
    (users / "daivon_frazier.yaml").write_bytes(b"a: &a [*a]\n")
    assert "refers to itself" in _refused_one_line("import_nija_config", "--config-dir", str(tmp_path))
