"""Staff read of the audit chain."""

from __future__ import annotations

from core.api import StaffListView

from ..selectors import audit_events_filtered
from .serializers import AuditEventFilterSerializer, AuditEventSerializer


class AuditEventListView(StaffListView):
    staff_permission = "compliance.view_auditevent"
    operation_id = "staff_audit_events_list"
    serializer_class = AuditEventSerializer
    filter_serializer_class = AuditEventFilterSerializer
    ordering = "-seq"

    def rows(self, filters: dict):
        return audit_events_filtered(**filters)
