"""Request ids and the API's error shape for errors that never reach a DRF view (an unknown URL, a
crash): under /api/ every error is {"error": {"code", "message"}} JSON, and an unexpected one is
logged with a request id that the caller gets back instead of a stack trace."""

from __future__ import annotations

import json
import logging
import re
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("nija.api")

API_PREFIX = "/api/"
REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type",
          429: "throttled"}


def _request_id(request: HttpRequest) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    return offered if _CLIENT_REQUEST_ID.match(offered) else uuid.uuid4().hex


def _is_error_shape(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


class RequestIdMiddleware:
    """Every request gets an id (the caller's X-Request-ID when it is sane); the response echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = _request_id(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class ApiErrorShapeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.path.startswith(API_PREFIX) and response.status_code >= 400
                and not getattr(response, "streaming", False) and not _is_error_shape(response)):
            status = response.status_code
            code = _CODES.get(status, "server_error" if status >= 500 else "error")
            message = response.reason_phrase or code
            shaped = JsonResponse({"error": {"code": code, "message": message}}, status=status)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    shaped[header] = response[header]
            return shaped
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None  # pages keep Django's error pages (never a traceback with DEBUG off)
        request_id = getattr(request, "request_id", "") or uuid.uuid4().hex
        logger.error("unhandled error in %s %s [request %s]", request.method, request.path, request_id,
                     exc_info=exception)
        return JsonResponse({"error": {"code": "server_error", "request_id": request_id,
                                       "message": f"internal error; quote request id {request_id} to support"}},
                            status=500)
