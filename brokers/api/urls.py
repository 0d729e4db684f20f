from django.urls import path

from . import views

urlpatterns = [
    path("users", views.UsersSummaryView.as_view(), name="users-balance-summary"),
    path("balances", views.BalanceListView.as_view(), name="staff-balances"),
    path("alerts", views.AlertListView.as_view(), name="staff-alerts"),
]
