import logging

from celery import shared_task

from core.heartbeats import AUDIT_CHAIN_VERIFY, heartbeat_record

from .selectors import audit_chain_verify
from .services import communication_send

logger = logging.getLogger("nija.audit")


@shared_task(name="compliance.tasks.audit_chain_verify_task")
def audit_chain_verify_task() -> dict:
    result = audit_chain_verify()
    if not result.valid:
        logger.error("AUDIT CHAIN BROKEN at event #%s: %s", result.first_broken_seq, result.problem)
    heartbeat_record(name=AUDIT_CHAIN_VERIFY, detail=result.as_dict())  # the dashboard shows the last result
    return result.as_dict()


@shared_task(name="compliance.tasks.communication_send_task")
def communication_send_task(communication_id: int) -> None:
    communication_send(communication_id=communication_id)
