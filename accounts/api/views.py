"""Staff accounts API: the registry with each account's status and risk profile."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StaffListView, StaffView, error_responses

from ..selectors import account_find, accounts_filtered
from .serializers import AccountFilterSerializer, AccountSerializer


class AccountListView(StaffListView):
    staff_permission = "accounts.view_account"
    operation_id = "staff_accounts_list"
    serializer_class = AccountSerializer
    filter_serializer_class = AccountFilterSerializer
    ordering = "user_id"

    def rows(self, filters: dict):
        search = filters.pop("q", None)
        return accounts_filtered(**filters, search=search)


class AccountDetailView(StaffView):
    staff_permission = "accounts.view_account"

    @extend_schema(operation_id="staff_account_detail",
                   responses={200: AccountSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, user_id: str) -> Response:
        account = account_find(user_id=user_id)
        if account is None:
            raise Http404("no such account")
        return Response(AccountSerializer(account).data)
