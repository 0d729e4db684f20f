from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import PortalSignInForm

urlpatterns = [
    path("portal/", views.portal_home, name="portal-home"),
    path("portal/positions/", views.portal_positions, name="portal-positions"),
    path("portal/trades/", views.portal_trades, name="portal-trades"),
    path("portal/trades.csv", views.portal_trades_csv, name="portal-trades-csv"),
    path("portal/missed/", views.portal_missed, name="portal-missed"),
    path("portal/reports/", views.portal_reports, name="portal-reports"),
    path("portal/statements/", views.portal_statements, name="portal-statements"),
    path("portal/statements/tax.csv", views.portal_tax_csv, name="portal-tax-csv"),
    path("portal/messages/", views.portal_messages, name="portal-messages"),
    path("portal/reports/<int:report_id>/", views.portal_report, name="portal-report"),
    # Getting in: Django's auth views, so whatever guards Django's sign-in (lockout) guards these too.
    path("portal/login/", views.PortalLoginView.as_view(authentication_form=PortalSignInForm), name="portal-login"),
    path("portal/logout/", auth_views.LogoutView.as_view(next_page="portal-login"), name="portal-logout"),
    path("portal/invitation/<uidb64>/<token>/", views.PortalSetPasswordView.as_view(), name="portal-invitation"),
    path("portal/password/set/", views.portal_notice(
        heading="Password set", text="Your password is set. Sign in with your username and the new password.",
        link_name="portal-login", link_label="Sign in"), name="portal-password-set-done"),
    path("portal/password/reset/", views.PortalPasswordResetView.as_view(), name="portal-password-reset"),
    path("portal/password/reset/sent/", views.portal_notice(
        heading="Check your e-mail",
        text="If the address belongs to a portal login, a link to choose a new password is on its way.",
        link_name="portal-login", link_label="Back to sign in"), name="portal-password-reset-sent"),
    path("portal/password/reset/<uidb64>/<token>/", views.PortalPasswordResetConfirmView.as_view(),
         name="portal-password-reset-confirm"),
    path("portal/two-factor/", views.portal_two_factor, name="portal-two-factor"),
    path("portal/password/change/", views.portal_login_required(views.PortalPasswordChangeView.as_view()),
         name="portal-password-change"),
    path("portal/password/changed/", views.portal_login_required(views.portal_notice(
        heading="Password changed", text="Your new password is in use.",
        link_name="portal-home", link_label="Back to the overview")),
        name="portal-password-change-done"),
]
