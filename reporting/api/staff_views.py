"""Staff read of the books reconciliation: the breaks between the ledger and the venues."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StaffCursorPagination, StaffListView, error_responses

from ..selectors import reconciliation_breaks_filtered
from .serializers import ReconciliationBreakFilterSerializer, ReconciliationBreakSerializer


class ReconciliationBreakListView(StaffListView):
    staff_permission = "reporting.view_reconciliationbreak"
    serializer_class = ReconciliationBreakSerializer
    filter_serializer_class = ReconciliationBreakFilterSerializer
    pagination_class = StaffCursorPagination

    def rows(self, filters: dict):
        return reconciliation_breaks_filtered(**filters)

    @extend_schema(operation_id="staff_reconciliation_breaks_list", parameters=[ReconciliationBreakFilterSerializer],
                   responses={200: ReconciliationBreakSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
