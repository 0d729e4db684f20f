from django.urls import path

from . import staff_views, views

urlpatterns = [
    path("accounts/<str:user_id>/transactions", views.TransactionsView.as_view(), name="reporting-transactions"),
    path("accounts/<str:user_id>/positions", views.PositionsView.as_view(), name="reporting-positions"),
    path("accounts/<str:user_id>/performance", views.PerformanceView.as_view(), name="reporting-performance"),
    path("accounts/<str:user_id>/reports", views.ReportListView.as_view(), name="reporting-reports"),
    path("accounts/<str:user_id>/reports/<int:report_id>", views.ReportDetailView.as_view(),
         name="reporting-report"),
    path("accounts/<str:user_id>/tax", views.TaxReportView.as_view(), name="reporting-tax"),
    path("accounts/<str:user_id>/fees", views.FeeStatementView.as_view(), name="reporting-fees"),
    path("reconciliation-breaks", staff_views.ReconciliationBreakListView.as_view(),
         name="staff-reconciliation-breaks"),
]
