from celery import current_app
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.db import database_ping


def _database_status() -> tuple[bool, str]:
    try:
        database_ping()
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - health reports any failure as a reason
        return False, f"{type(exc).__name__}: {exc}"


def _broker_status() -> tuple[bool, str]:
    try:
        # The project's Celery app (nija_site/__init__.py makes it the current one): core names nothing above it.
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except (OSError, Exception) as exc:  # noqa: BLE001
        return False, f"{type(exc).__name__}: {exc}"


@never_cache
@require_GET
def healthz(request):
    """Unauthenticated liveness probe: says only whether each dependency answers."""
    db_ok, db_detail = _database_status()
    broker_ok, broker_detail = _broker_status()
    ok = db_ok and broker_ok
    body = {
        "status": "ok" if ok else "unavailable",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    return JsonResponse(body, status=200 if ok else 503)
