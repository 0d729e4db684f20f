import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from compliance.chain import GENESIS_HASH
from compliance.models import AuditEvent
from compliance.selectors import audit_chain_verify
from compliance.services import audit_event_record
from tests.conftest import subprocess_env


def _append(n: int) -> list[AuditEvent]:
    return [
        audit_event_record(actor="admin", action="USER_CREATE", target_type="account", target_id=f"user_{i}",
                           reason="test", after={"n": i})
        for i in range(n)
    ]


def test_chain_links_each_event_to_the_previous_hash(db):
    events = _append(3)
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert [e.seq for e in events] == [1, 2, 3]
    result = audit_chain_verify()
    assert result.valid and result.events_checked == 3


def test_empty_chain_is_valid(db):
    assert audit_chain_verify().valid


def test_log_line_format(db):
    event = _append(1)[0]
    assert event.log_line() == f"[{event.created_at:%Y-%m-%d %H:%M:%S}] USER_CREATE: user_0 by admin"


def test_altered_row_is_detected_and_named(db):
    events = _append(5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET reason = %s WHERE id = %s", ["forged", events[2].id])
    result = audit_chain_verify()
    assert not result.valid
    assert result.first_broken_seq == 3
    assert "altered" in result.problem


def test_altered_before_after_json_is_detected(db):
    events = _append(3)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET after = %s WHERE id = %s", ['{"n": 99}', events[1].id])
    assert audit_chain_verify().first_broken_seq == 2


def test_deleted_row_is_detected(db):
    events = _append(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_auditevent WHERE id = %s", [events[1].id])
    result = audit_chain_verify()
    assert not result.valid
    assert result.first_broken_seq == 3
    assert "deleted" in result.problem


def test_deleted_latest_row_is_detected(db):
    events = _append(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_auditevent WHERE id = %s", [events[-1].id])
    result = audit_chain_verify()
    assert not result.valid
    assert "latest events deleted" in result.problem


def test_rehashed_forgery_still_breaks_the_next_link(db):
    """A forger who recomputes the altered row's hash breaks the following row's prev_hash."""
    from compliance.chain import audit_event_hash

    events = _append(3)
    forged = AuditEvent.objects.get(id=events[0].id)
    forged.reason = "forged"
    new_hash = audit_event_hash(forged)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET reason = %s, hash = %s WHERE id = %s",
                       ["forged", new_hash, forged.id])
    result = audit_chain_verify()
    assert result.first_broken_seq == 2
    assert "prev_hash" in result.problem


def test_verify_command_exit_codes_and_json(db, capsys):
    events = _append(2)
    call_command("verify_audit_chain")
    assert "Audit chain valid: 2 events" in capsys.readouterr().out
    call_command("verify_audit_chain", "--json")
    assert json.loads(capsys.readouterr().out)["valid"] is True
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET actor = 'mallory' WHERE id = %s", [events[1].id])
    with pytest.raises(CommandError, match="broken at event #2"):
        call_command("verify_audit_chain", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["valid"] is False and payload["first_broken_seq"] == 2


def test_verify_command_process_exits_non_zero_on_tampering(transactional_db):
    events = _append(2)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET target_id = 'x' WHERE id = %s", [events[0].id])
    proc = subprocess.run([sys.executable, "manage.py", "verify_audit_chain"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "broken at event #1" in proc.stderr


APPENDER = """
import django, sys, time
django.setup()
from compliance.services import audit_event_record
# Start together so the two processes really contend for the chain head: say ready, wait for go.
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[1])):
    audit_event_record(actor=sys.argv[2], action="CONCURRENCY_TEST", target_type="test", target_id=str(i))
"""


def test_concurrent_appends_from_two_processes_form_one_valid_chain(postgres, transactional_db):
    per_process = 100
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(per_process), name], env=subprocess_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("proc_a", "proc_b")
    ]
    # A start time fixed in advance was not enough once start-up took longer than the margin under
    # load: wait until both have set Django up, then release them together.
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert AuditEvent.objects.filter(action="CONCURRENCY_TEST").count() == 2 * per_process
    # both processes really interleaved, and the chain is still one line
    actors = list(AuditEvent.objects.order_by("seq").values_list("actor", flat=True))
    assert sum(1 for a, b in zip(actors, actors[1:], strict=False) if a != b) > 1
    result = audit_chain_verify()
    assert result.valid, result.problem
    assert result.events_checked == 2 * per_process
