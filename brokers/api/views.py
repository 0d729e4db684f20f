"""Staff balances API. One view per operation; reads through brokers.selectors only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ERROR_RESPONSES, StaffListView, StaffView

from ..selectors import alerts_filtered, balance_account_rows, balance_users_summary, balances_of
from .serializers import (
    AccountBalanceSerializer,
    AlertFilterSerializer,
    AlertSerializer,
    BalanceFilterSerializer,
    UsersSummarySerializer,
)


class UsersSummaryView(StaffView):
    """Every user's latest balances (from the stored snapshots, no venue call) with the totals of
    `show_user_balances`; an unavailable venue is listed with its error, never counted as zero."""

    staff_permission = "brokers.view_balancesnapshot"

    @extend_schema(operation_id="users_balance_summary", responses={200: UsersSummarySerializer, **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(UsersSummarySerializer(balance_users_summary()).data)


@extend_schema(exclude=True)  # documented once, under /api/v1/users
class UsersSummaryAliasView(UsersSummaryView):
    pass


class BalanceListView(StaffListView):
    """Latest balances per account and venue from the stored snapshots, unavailable venues with
    their error and last good value; one page of accounts at a time."""

    staff_permission = "brokers.view_balancesnapshot"
    operation_id = "staff_balances_list"
    serializer_class = AccountBalanceSerializer
    filter_serializer_class = BalanceFilterSerializer
    ordering = "user_id"

    def rows(self, filters: dict):
        return balance_account_rows(unavailable_only=bool(filters.get("unavailable")), venue=filters.get("venue"),
                                    search=filters.get("q"))

    def page_data(self, page: list) -> list:
        return AccountBalanceSerializer(balances_of(account_rows=page), many=True).data


class AlertListView(StaffListView):
    staff_permission = "brokers.view_alert"
    operation_id = "staff_alerts_list"
    serializer_class = AlertSerializer
    filter_serializer_class = AlertFilterSerializer

    def rows(self, filters: dict):
        return alerts_filtered(**filters)
