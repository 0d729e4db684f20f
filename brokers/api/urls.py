from django.urls import path

from . import views

urlpatterns = [
    path("users", views.UsersSummaryView.as_view(), name="users-balance-summary"),
]
