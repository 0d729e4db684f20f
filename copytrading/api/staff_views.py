"""Staff reads of the copy engine: master signals with their copy orders, and missed trades."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StaffListView, StaffView, error_responses

from ..selectors import copy_orders_filtered, signal_find, signal_status_counts, signals_filtered
from .serializers import (
    CopyOrderFilterSerializer,
    CopyOrderSerializer,
    MasterSignalSerializer,
    MissedTradeFilterSerializer,
    SignalFilterSerializer,
)


class SignalListView(StaffListView):
    staff_permission = "copytrading.view_mastersignal"
    operation_id = "staff_master_signals_list"
    serializer_class = MasterSignalSerializer
    filter_serializer_class = SignalFilterSerializer

    def rows(self, filters: dict):
        return signals_filtered(**filters)

    def page_data(self, page: list) -> list:
        counts = signal_status_counts(signal_ids=[s.pk for s in page])
        return MasterSignalSerializer(page, many=True, context={"counts": counts}).data


class SignalDetailView(StaffView):
    staff_permission = "copytrading.view_mastersignal"

    @extend_schema(operation_id="staff_master_signal_detail",
                   responses={200: MasterSignalSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, signal_id: int) -> Response:
        signal = signal_find(signal_id=signal_id)
        if signal is None:
            raise Http404("no such signal")
        counts = signal_status_counts(signal_ids=[signal.pk])
        return Response(MasterSignalSerializer(signal, context={"counts": counts}).data)


class SignalCopyOrderListView(StaffListView):
    staff_permission = "copytrading.view_copyorder"
    operation_id = "staff_master_signal_copy_orders"
    serializer_class = CopyOrderSerializer
    filter_serializer_class = CopyOrderFilterSerializer
    ordering = "id"

    def rows(self, filters: dict):
        signal = signal_find(signal_id=self.kwargs["signal_id"])
        if signal is None:
            raise Http404("no such signal")
        return copy_orders_filtered(signal_id=signal.pk, **filters)


class MissedTradeListView(StaffListView):
    """Copies that did not reach their account: skipped (with the reason), rejected or failed."""

    staff_permission = "copytrading.view_missedtrade"
    operation_id = "staff_missed_trades_list"
    serializer_class = CopyOrderSerializer
    filter_serializer_class = MissedTradeFilterSerializer

    def rows(self, filters: dict):
        return copy_orders_filtered(missed_only=True, **filters)
