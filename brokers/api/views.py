"""Staff balances API. One view per operation; reads through brokers.selectors only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ERROR_RESPONSES, StaffView

from ..selectors import balance_users_summary
from .serializers import UsersSummarySerializer


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
