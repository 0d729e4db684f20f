from django.urls import path

from . import views

# "admin_password_reset" is the name the admin's login page looks for to show its
# "Forgotten your password?" link.
urlpatterns = [
    path("password-reset/", views.PasswordResetRequest.as_view(), name="admin_password_reset"),
    path("password-reset/sent/", views.PasswordResetSent.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirm.as_view(), name="password_reset_confirm"),
    path("password-reset/complete/", views.PasswordResetComplete.as_view(), name="password_reset_complete"),
]
