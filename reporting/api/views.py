"""Read-only reporting API under /api/v1/accounts/<user_id>/... ("me" = the caller's own account).
One view per operation; Decimals are strings, money and quantities quantized by core.presenters;
errors use the one API error shape."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.dates import day_bounded, day_parse, span_check, year_parse
from core.errors import ApplicationError
from core.presenters import present_json

from ..access import account_for_user
from ..lots import METHODS
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
from .serializers import (
    FeeStatementSerializer,
    PerformanceSerializer,
    PositionsSerializer,
    ReportSerializer,
    ReportsSerializer,
    TaxReportSerializer,
    TransactionsSerializer,
)

ERRORS = error_responses(400, 401, 403, 404, 405, 429)
# What the schema says of the parameters (fuzzers and clients read it); the views check them all.
USER_ID = OpenApiParameter("user_id", str, OpenApiParameter.PATH,
                           description="the account's user id, or `me` for the caller's own account")
METHOD = OpenApiParameter("method", str, enum=list(METHODS), default="fifo", description="lot matching")
DAY_FORMAT = "YYYY-MM-DD, not before 2000-01-01 nor after today"


def _schema(operation_id: str, output: type[serializers.Serializer], *parameters: OpenApiParameter):
    return extend_schema(operation_id=operation_id, parameters=[USER_ID, *parameters],
                         responses={200: output, **ERRORS})


def _out(output: type[serializers.Serializer], data: dict) -> Response:
    """The presented figures (strings, ISO times) through their output serializer."""
    return Response(output(data).data)


def _given(request: Request, name: str) -> str | None:
    """A query parameter, or None when absent; present but empty (`?to=`) is a mistake, not the default."""
    value = request.query_params.get(name)
    if value is not None and not value.strip():
        raise ApplicationError(f"{name} is empty: leave it out for the default", code="invalid")
    return value


def _date(request: Request, name: str, default: dt.date) -> dt.date:
    return day_bounded(day_parse(_given(request, name), name=name, default=default), name=name)


class TransactionsView(APIView):
    @_schema("reporting_transactions", TransactionsSerializer)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        return _out(TransactionsSerializer, present_json(transactions_export(account=account)))


class PositionsView(APIView):
    @_schema("reporting_positions", PositionsSerializer, METHOD)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        method = method_check(request.query_params.get("method"))
        positions = positions_view(books=AccountBooks(account=account, method=method))
        return _out(PositionsSerializer, present_json({"user_id": account.user_id, "currency": "USD",
                                                        "positions": positions}))


class PerformanceView(APIView):
    @_schema("reporting_performance", PerformanceSerializer,
             OpenApiParameter("period", str, enum=list(PERIODS), default="daily"),
             OpenApiParameter("date", OpenApiTypes.DATE, description=f"the period's last day ({DAY_FORMAT}); today"))
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        period = _given(request, "period") or "daily"
        if period not in PERIODS:
            raise ApplicationError(f"period must be one of {', '.join(PERIODS)}", code="invalid")
        day = _date(request, "date", timezone.now().date())
        data = report_data(account=account, period=period, day=day)
        data.pop("journal", None)
        data["metrics"].pop("daily_returns", None)
        return _out(PerformanceSerializer, present_json(data))


class ReportListView(APIView):
    @_schema("reporting_reports_list", ReportsSerializer)
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        reports = reports_for_account(account=account, limit=200)
        return _out(ReportsSerializer, {"user_id": account.user_id, "reports": [
            {"id": r.pk, "period": r.period, "start": r.period_start.isoformat(), "end": r.period_end.isoformat(),
             "generated_at": r.generated_at.isoformat()} for r in reports]})


class ReportDetailView(APIView):
    @_schema("reporting_report_detail", ReportSerializer, OpenApiParameter("report_id", int, OpenApiParameter.PATH))
    def get(self, request: Request, user_id: str, report_id: int) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        report = report_get(report_id=report_id, account=account)
        if report is None:
            raise Http404("no such report")
        return _out(ReportSerializer, {
            "id": report.pk, "period": report.period, "start": report.period_start.isoformat(),
            "end": report.period_end.isoformat(), "generated_at": report.generated_at.isoformat(),
            "text": report.text, "data": present_json(report.data)})


class TaxReportView(APIView):
    @_schema("reporting_tax_report", TaxReportSerializer, METHOD,
             OpenApiParameter("year", int, description="calendar year, 2000 to the current one; default this year"))
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        year = year_parse(_given(request, "year"), default=timezone.now().year)
        method = method_check(request.query_params.get("method"))
        return _out(TaxReportSerializer, present_json(tax_report(account=account, year=year, method=method)))


class FeeStatementView(APIView):
    @_schema("reporting_fee_statement", FeeStatementSerializer,
             OpenApiParameter("from", OpenApiTypes.DATE, description=f"{DAY_FORMAT}; default the 1st of this month"),
             OpenApiParameter("to", OpenApiTypes.DATE, description=f"{DAY_FORMAT}; default today; "
                              "at most NIJA_REPORT_MAX_SPAN_DAYS after from"))
    def get(self, request: Request, user_id: str) -> Response:
        account = account_for_user(user=request.user, user_id=user_id)
        today = timezone.now().date()
        start = _date(request, "from", today.replace(day=1))
        end = _date(request, "to", today)
        span_check(start, end, max_days=settings.NIJA_REPORT_MAX_SPAN_DAYS)
        return _out(FeeStatementSerializer, present_json(fee_statement(account=account, start=start, end=end)))
