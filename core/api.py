"""The one API error shape: {"error": {"code", "message", "fields"?}}."""

from decimal import ROUND_HALF_EVEN
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"error": {"code": "invalid", "message": "Invalid input.", "fields": detail}}
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "message": str(detail)}}
    return response


class StaffPermission(permissions.BasePermission):
    """Staff endpoints: a staff user holding the view's `staff_permission` (a view_ permission every
    staff group has, so viewers and above). Anyone else signed in gets 403, anonymous 401."""

    message = "Staff access only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.is_active
                    and user.has_perm(view.staff_permission))


class StaffView(APIView):
    permission_classes = [StaffPermission]
    staff_permission = ""  # e.g. "brokers.view_balancesnapshot"


class MoneyField(serializers.DecimalField):
    """A USD amount out of the API: a string rounded half-even to the cent, at this edge only."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=None, decimal_places=2, rounding=ROUND_HALF_EVEN, coerce_to_string=True,
                         **kwargs)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="invalid, not_authenticated, permission_denied, not_found, "
                                           "method_not_allowed, throttled, server_error, ...")
    message = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="per-parameter messages (code invalid)")
    request_id = serializers.CharField(required=False, help_text="server_error only: quote it to support")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_MEANINGS = {
    400: "invalid query parameters (code invalid, with fields)",
    401: "not signed in and no valid token",
    403: "signed in without the permission this endpoint needs",
    404: "no such object, or not yours",
}


def error_responses(*statuses: int) -> dict:
    """The documented error responses of an endpoint, all in the one error shape."""
    return {s: OpenApiResponse(ErrorSerializer, description=_ERROR_MEANINGS[s]) for s in statuses}


ERROR_RESPONSES = error_responses(401, 403)
