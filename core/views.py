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


def _component(ok: bool, detail: str, *, show_detail: bool) -> dict:
    # The error text names hosts, ports and drivers: staff see it, anonymous callers only the state.
    return {"ok": ok, "detail": detail if show_detail else ("ok" if ok else "unavailable")}


@never_cache
@require_GET
def healthz(request):
    """Unauthenticated liveness probe: says whether each dependency answers; why one does not
    only to a signed-in staff member."""
    db_ok, db_detail = _database_status()
    broker_ok, broker_detail = _broker_status()
    ok = db_ok and broker_ok
    staff = request.user.is_authenticated and request.user.is_staff
    body = {
        "status": "ok" if ok else "unavailable",
        "database": _component(db_ok, db_detail, show_detail=staff),
        "broker": _component(broker_ok, broker_detail, show_detail=staff),
    }
    return JsonResponse(body, status=200 if ok else 503)
