"""The one API error shape: {"error": {"code", "message", "fields"?}}."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .dates import day_bounded
from .decimals import format_decimal, money_round
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

    @staticmethod
    def text(value: Decimal) -> str:
        """What to_representation gives, without a field instance: for lists of thousands of amounts."""
        return f"{money_round(value):f}"


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
    405: "a method this endpoint does not have",
    429: "too many requests (see Retry-After)",
}


def error_responses(*statuses: int) -> dict:
    """The documented error responses of an endpoint, all in the one error shape."""
    return {s: OpenApiResponse(ErrorSerializer, description=_ERROR_MEANINGS[s]) for s in statuses}


ERROR_RESPONSES = error_responses(401, 403)


@extend_schema_field({"type": "string", "format": "decimal", "example": "0.015", "nullable": True})
class ExactDecimalField(serializers.Field):
    """A quantity, price, rate or percentage: the exact Decimal as a string, without trailing zeros
    (no rounding: it is not money to present)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value is None else format_decimal(value)


class StaffCursorPagination(CursorPagination):
    """Lists that grow (signals, orders, alerts, audit events): a cursor keeps pages stable while
    rows are added, and costs the same at page 1 and page 1,000. Ordered by the view's `ordering`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = getattr(view, "ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)


LIST_ERRORS = (400, 401, 403, 404)


class StaffListSchema(AutoSchema):
    """The OpenAPI operation of a StaffListView, read from its attributes: `operation_id`, the
    filter serializer's fields as query parameters, a cursor page of `serializer_class` and the
    list errors in the one error shape."""

    def get_operation_id(self) -> str:
        return self.view.operation_id or super().get_operation_id()

    def get_description(self) -> str:
        # The list's own docstring only: StaffListView's (for developers) is no API documentation.
        return super().get_description() if type(self.view).__dict__.get("__doc__") else ""

    def get_override_parameters(self) -> list:
        filters = self.view.filter_serializer_class
        return [*super().get_override_parameters(), *([filters] if filters else [])]

    def get_response_serializers(self) -> dict:
        return {200: self.view.serializer_class(many=True), **error_responses(*LIST_ERRORS)}


class StaffListView(generics.ListAPIView):
    """A paginated staff list, declared by its attributes: `staff_permission`, `operation_id`,
    `filter_serializer_class` (validates the query parameters: a bad one is a 400 naming it),
    `rows(filters)` (the owning app's selector gives the queryset), `ordering` (the cursor's),
    `serializer_class` (one row out; `page_data` when a page needs more than its rows)."""

    permission_classes = [StaffPermission]
    pagination_class = StaffCursorPagination
    schema = StaffListSchema()
    staff_permission = ""
    operation_id = ""
    ordering = "-id"
    filter_serializer_class: type[serializers.Serializer] | None = None

    def filters(self) -> dict:
        if self.filter_serializer_class is None:
            return {}
        params = self.filter_serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return {k: v for k, v in params.validated_data.items() if v not in (None, "")}

    def rows(self, filters: dict):
        raise NotImplementedError

    def get_queryset(self):
        return self.rows(self.filters())

    def page_data(self, page: list) -> list:
        """The page's rows out; override to add what the rows alone do not carry (one query per page)."""
        return self.get_serializer(page, many=True).data

    def get(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.page_data(page))


class DayField(serializers.DateField):
    """A YYYY-MM-DD query parameter between 2000-01-01 and today (UTC), as the reports take days."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        try:
            return day_bounded(day, name=self.field_name)
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.message) from None
