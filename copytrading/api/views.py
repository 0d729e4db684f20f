"""The signed signal webhook: POST /api/v1/signals.

Authentication is the signature itself (HMAC-SHA256 of "{timestamp}.{raw body}" keyed with
NIJA_SIGNAL_SECRET, timestamp within ±300 s); there is no session or user. Everything is checked
before anything is stored, so a rejected request stores nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import ApplicationError
from security.throttles import SignalSourceThrottle

from ..models import MasterSignal
from ..selectors import signal_outcome, signal_planning_state
from ..services import signal_plan_enqueue, signal_receive
from .serializers import SignalInputSerializer, SignalOutputSerializer

logger = logging.getLogger("nija.copytrading")

SIGNATURE_HEADER = "X-Nija-Signature"
TIMESTAMP_HEADER = "X-Nija-Timestamp"
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 16 * 1024


def signal_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of b"{timestamp}." + body. Senders compute exactly this."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _unauthorized(message: str) -> Response:
    return Response({"error": {"code": "not_authenticated", "message": message}}, status=status.HTTP_401_UNAUTHORIZED)


def signature_problem(*, secret: str, timestamp: str | None, signature: str | None, body: bytes,
                      now: float | None = None) -> str:
    """'' when the request is authentic and fresh, else why not (said to the caller, no secrets)."""
    if not secret:
        return "the signal webhook is disabled (no NIJA_SIGNAL_SECRET configured)"
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    if not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return f"stale timestamp (more than {MAX_SKEW_SECONDS} s from server time)"
    expected = signal_signature(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "bad signature"
    return ""


def _invalid(message: str, fields: dict | None = None) -> Response:
    error = {"code": "invalid", "message": message}
    if fields:
        error["fields"] = fields
    return Response({"error": error}, status=status.HTTP_400_BAD_REQUEST)


class SignalWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignalSourceThrottle]
    parser_classes = [JSONParser]  # the body is read raw (the signature covers it); JSON is all it takes

    @extend_schema(
        request=SignalInputSerializer,
        responses={202: SignalOutputSerializer, 200: SignalOutputSerializer, **error_responses(400, 401, 405, 429)},
        parameters=[OpenApiParameter(TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True),
                    OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True)],
        description=("Signed master signal: HMAC-SHA256 hex of '{timestamp}.{raw body}' keyed with NIJA_SIGNAL_SECRET. "
                     "202: stored, planning runs in a worker (`planning` says whether it was queued); "
                     "200: a replay of a stored signal; a signal older than NIJA_SIGNAL_MAX_AGE_SECONDS is "
                     "stored EXPIRED with its reason and never copied."),
    )
    def post(self, request: Request) -> Response:
        body = request.body  # the raw bytes, read before any parsing: the signature covers them
        problem = signature_problem(
            secret=settings.NIJA_SIGNAL_SECRET, timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER), body=body,
        )
        if problem:
            logger.warning("signal webhook refused: %s", problem)
            return _unauthorized(problem)
        if len(body) > MAX_BODY_BYTES:
            return _invalid("body too large", {"non_field_errors": f"at most {MAX_BODY_BYTES} bytes"})
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _invalid("the body is not valid JSON", {"non_field_errors": "not JSON"})
        except RecursionError:
            return _invalid("the body is nested too deeply", {"non_field_errors": "nested too deeply"})
        try:
            signal, created = signal_receive(source=MasterSignal.Source.WEBHOOK, data=data, raw_payload=data,
                                             plan=False)
        except ApplicationError as exc:
            return Response({"error": {"code": exc.code, "message": exc.message, **exc.extra}}, status=400)
        queued = None
        if created and signal.status == MasterSignal.Status.RECEIVED:
            queued = signal_plan_enqueue(signal)
            signal.refresh_from_db()  # eager mode (tests, embedded runs) has planned it already
        body = signal_outcome(signal=signal, planning=signal_planning_state(signal, queued=queued))
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)
