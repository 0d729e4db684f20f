"""Read-only reporting API under /api/v1/accounts/<user_id>/... ("me" = the caller's own account).
One view per operation; Decimals are strings, money and quantities quantized by core.presenters;
errors use the one API error shape."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.dates import day_bounded, day_parse, span_check, year_parse
from core.errors import ApplicationError
from core.presenters import present_json

from ..access import account_for_user
from ..reports import PERIODS, report_data
from ..selectors import (
    AccountBooks,
    fee_statement,
    method_check,
    positions_view,
    report_get,
    reports_for_account,
    tax_report,
    transactions_export,
)

RESPONSES = {200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404)}


def _date(request: Request, name: str, default: dt.date) -> dt.date:
    return day_bounded(day_parse(request.query_params.get(name), name=name, default=default), name=name)


class TransactionsView(APIView):
    @extend_schema(operation_id="reporting_transactions", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        return Response(present_json(transactions_export(account=account)))


class PositionsView(APIView):
    @extend_schema(operation_id="reporting_positions", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        method = method_check(request.query_params.get("method", "fifo"))
        positions = positions_view(books=AccountBooks(account=account, method=method))
        return Response(present_json({"user_id": account.user_id, "currency": "USD", "positions": positions}))


class PerformanceView(APIView):
    @extend_schema(operation_id="reporting_performance", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        period = request.query_params.get("period", "daily")
        if period not in PERIODS:
            raise ApplicationError(f"period must be one of {', '.join(PERIODS)}", code="invalid")
        day = _date(request, "date", timezone.now().date())
        data = report_data(account=account, period=period, day=day)
        data.pop("journal", None)
        data["metrics"].pop("daily_returns", None)
        return Response(present_json(data))


class ReportListView(APIView):
    @extend_schema(operation_id="reporting_reports_list", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        reports = reports_for_account(account=account, limit=200)
        return Response({"user_id": account.user_id, "reports": [
            {"id": r.pk, "period": r.period, "start": r.period_start.isoformat(), "end": r.period_end.isoformat(),
             "generated_at": r.generated_at.isoformat()} for r in reports]})


class ReportDetailView(APIView):
    @extend_schema(operation_id="reporting_report_detail", responses=RESPONSES)
    def get(self, request: Request, user_id: str, report_id: int) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        report = report_get(report_id=report_id, account=account)
        if report is None:
            raise Http404("no such report")
        return Response({"id": report.pk, "period": report.period, "start": report.period_start.isoformat(),
                         "end": report.period_end.isoformat(), "generated_at": report.generated_at.isoformat(),
                         "text": report.text, "data": present_json(report.data)})


class TaxReportView(APIView):
    @extend_schema(operation_id="reporting_tax_report", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        year = year_parse(request.query_params.get("year"), default=timezone.now().year)
        method = method_check(request.query_params.get("method", "fifo"))
        return Response(present_json(tax_report(account=account, year=year, method=method)))


class FeeStatementView(APIView):
    @extend_schema(operation_id="reporting_fee_statement", responses=RESPONSES)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        today = timezone.now().date()
        start = _date(request, "from", today.replace(day=1))
        end = _date(request, "to", today)
        span_check(start, end, max_days=settings.NIJA_REPORT_MAX_SPAN_DAYS)
        return Response(present_json(fee_statement(account=account, start=start, end=end)))
