from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import PortalSignInForm

urlpatterns = [
    path("portal/", views.portal_home, name="portal-home"),
    path("portal/reports/<int:report_id>/", views.portal_report, name="portal-report"),
    path("portal/login/", auth_views.LoginView.as_view(template_name="portal/login.html",
                                                       authentication_form=PortalSignInForm,
                                                       next_page="portal-home"), name="portal-login"),
    path("portal/logout/", auth_views.LogoutView.as_view(next_page="portal-login"), name="portal-logout"),
]
