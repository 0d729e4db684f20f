"""Staff reads of the copy engine: master signals with their copy orders, and missed trades."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StaffCursorPagination, StaffListView, StaffView, error_responses

from ..selectors import copy_orders_filtered, signal_find, signal_status_counts, signals_filtered
from .serializers import (
    CopyOrderFilterSerializer,
    CopyOrderSerializer,
    MasterSignalSerializer,
    MissedTradeFilterSerializer,
    SignalFilterSerializer,
)

LIST_ERRORS = error_responses(400, 401, 403, 404)


class SignalListView(StaffListView):
    staff_permission = "copytrading.view_mastersignal"
    serializer_class = MasterSignalSerializer
    filter_serializer_class = SignalFilterSerializer

    def rows(self, filters: dict):
        return signals_filtered(**filters)

    @extend_schema(operation_id="staff_master_signals_list", parameters=[SignalFilterSerializer],
                   responses={200: MasterSignalSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        counts = signal_status_counts(signal_ids=[s.pk for s in page])
        return self.get_paginated_response(MasterSignalSerializer(page, many=True, context={"counts": counts}).data)


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


class CopyOrderPagination(StaffCursorPagination):
    ordering = "id"


class SignalCopyOrderListView(StaffListView):
    staff_permission = "copytrading.view_copyorder"
    serializer_class = CopyOrderSerializer
    filter_serializer_class = CopyOrderFilterSerializer
    pagination_class = CopyOrderPagination

    def rows(self, filters: dict):
        signal = signal_find(signal_id=self.kwargs["signal_id"])
        if signal is None:
            raise Http404("no such signal")
        return copy_orders_filtered(signal_id=signal.pk, **filters)

    @extend_schema(operation_id="staff_master_signal_copy_orders", parameters=[CopyOrderFilterSerializer],
                   responses={200: CopyOrderSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class MissedTradeListView(StaffListView):
    """Copies that did not reach their account: skipped (with the reason), rejected or failed."""

    staff_permission = "copytrading.view_missedtrade"
    serializer_class = CopyOrderSerializer
    filter_serializer_class = MissedTradeFilterSerializer

    def rows(self, filters: dict):
        return copy_orders_filtered(missed_only=True, **filters)

    @extend_schema(operation_id="staff_missed_trades_list", parameters=[MissedTradeFilterSerializer],
                   responses={200: CopyOrderSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
