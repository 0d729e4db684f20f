"""Staff read of the books reconciliation: the breaks between the ledger and the venues."""

from __future__ import annotations

from core.api import StaffListView

from ..selectors import reconciliation_breaks_filtered
from .serializers import ReconciliationBreakFilterSerializer, ReconciliationBreakSerializer


class ReconciliationBreakListView(StaffListView):
    staff_permission = "reporting.view_reconciliationbreak"
    operation_id = "staff_reconciliation_breaks_list"
    serializer_class = ReconciliationBreakSerializer
    filter_serializer_class = ReconciliationBreakFilterSerializer

    def rows(self, filters: dict):
        return reconciliation_breaks_filtered(**filters)
