from django.urls import path

from .views import SignalWebhookView

urlpatterns = [
    path("signals", SignalWebhookView.as_view(), name="signal-webhook"),
]
