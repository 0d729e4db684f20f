import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from core.decimals import to_jsonable

from .selectors import audit_account_ids_batch
from .services import balance_audit_run, credentials_archived_erase

logger = logging.getLogger("nija.brokers")

# A batch of 500 credentials at 100 at a time, each call bounded by 30 s: longer than the default.
AUDIT_SOFT_TIME_LIMIT, AUDIT_TIME_LIMIT = 240, 300


@shared_task(name="brokers.tasks.balance_audit_task", ignore_result=True,
             soft_time_limit=AUDIT_SOFT_TIME_LIMIT, time_limit=AUDIT_TIME_LIMIT)
def balance_audit_task(account_ids: list[int] | None = None, after_id: int = 0) -> dict:
    """Beat runs it every 5 minutes and `make run` once at start; failures per venue are stored.
    Without `account_ids` it audits NIJA_TASK_BATCH_SIZE accounts after `after_id` and queues
    itself for the rest. At the soft time limit nothing of the batch is stored (snapshots are
    written in one transaction after every fetch) and the stop is logged; the next run covers it."""
    ids = None if account_ids is None else [int(a) for a in account_ids]
    size = max(1, int(settings.NIJA_TASK_BATCH_SIZE))
    if ids is None:
        ids = audit_account_ids_batch(after_id=int(after_id), limit=size)
        if len(ids) == size:
            # Queued first: the rest is audited even if this batch stops at its time limit.
            last = ids[-1]
            transaction.on_commit(lambda: balance_audit_task.delay(after_id=last))
    try:
        return to_jsonable(balance_audit_run(account_ids=ids).as_dict())
    except SoftTimeLimitExceeded:
        logger.warning("balance audit of %s accounts (#%s to #%s) stopped at its soft time limit (%s s); "
                       "nothing stored for them, the next run audits them", len(ids), ids[0] if ids else "-",
                       ids[-1] if ids else "-", AUDIT_SOFT_TIME_LIMIT)
        return {"stopped": "soft_time_limit", "accounts": len(ids)}


@shared_task(name="brokers.tasks.credentials_archived_erase_task", ignore_result=True)
def credentials_archived_erase_task() -> dict:
    """Daily: erase the secrets of credentials archived longer than the retention period."""
    return {"erased": credentials_archived_erase()}
