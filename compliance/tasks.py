import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from core.locks import task_lock

from .services import audit_chain_verification_record, communication_send, communications_send_due

logger = logging.getLogger("nija.audit")


@shared_task(name="compliance.tasks.audit_chain_verify_task")
def audit_chain_verify_task() -> dict:
    return audit_chain_verification_record().as_dict()  # the dashboard and the daily check read it


@shared_task(name="compliance.tasks.communication_send_task")
def communication_send_task(communication_id: int) -> None:
    communication_send(communication_id=communication_id)


@shared_task(name="compliance.tasks.communications_send_due_task", soft_time_limit=240, time_limit=300)
def communications_send_due_task() -> dict:
    """Every minute: failed e-mails whose next attempt is due, and queued ones whose task was lost.
    One run at a time; a bounded batch (the rest wait for the next run)."""
    with task_lock("communications-send-due", ttl_seconds=330) as taken:
        if not taken:
            return {"skipped": "another run is sending"}
        try:
            return communications_send_due(limit=settings.NIJA_MAIL_SWEEP_BATCH_SIZE)
        except SoftTimeLimitExceeded:
            logger.warning("communications_send_due_task stopped at its soft time limit; the rest wait")
            return {"stopped": "soft_time_limit"}
