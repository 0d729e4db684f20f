from django.urls import path

from . import staff_views
from .views import SignalWebhookView

urlpatterns = [
    path("signals", SignalWebhookView.as_view(), name="signal-webhook"),
    path("master-signals", staff_views.SignalListView.as_view(), name="staff-master-signals"),
    path("master-signals/<int:signal_id>", staff_views.SignalDetailView.as_view(), name="staff-master-signal"),
    path("master-signals/<int:signal_id>/copy-orders", staff_views.SignalCopyOrderListView.as_view(),
         name="staff-master-signal-copy-orders"),
    path("missed-trades", staff_views.MissedTradeListView.as_view(), name="staff-missed-trades"),
]
