"""Staff read of the audit chain."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StaffCursorPagination, StaffListView, error_responses

from ..selectors import audit_events_filtered
from .serializers import AuditEventFilterSerializer, AuditEventSerializer


class AuditEventPagination(StaffCursorPagination):
    ordering = "-seq"


class AuditEventListView(StaffListView):
    staff_permission = "compliance.view_auditevent"
    serializer_class = AuditEventSerializer
    filter_serializer_class = AuditEventFilterSerializer
    pagination_class = AuditEventPagination

    def rows(self, filters: dict):
        return audit_events_filtered(**filters)

    @extend_schema(operation_id="staff_audit_events_list", parameters=[AuditEventFilterSerializer],
                   responses={200: AuditEventSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
