from celery import shared_task

from core.decimals import to_jsonable

from .services import balance_audit_run


@shared_task(name="brokers.tasks.balance_audit_task", ignore_result=True)
def balance_audit_task(account_ids: list[int] | None = None) -> dict:
    """Beat runs it every 5 minutes and `make run` once at start; failures per venue are stored."""
    return to_jsonable(balance_audit_run(account_ids=account_ids).as_dict())
