from django.urls import path

from . import views

urlpatterns = [
    path("accounts", views.AccountListView.as_view(), name="staff-accounts"),
    path("accounts/<str:user_id>", views.AccountDetailView.as_view(), name="staff-account"),
]
