from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView

from brokers.api.views import UsersSummaryAliasView
from core.schema import ApiDocsView, ApiSchemaView
from core.views import healthz

api_v1 = [
    path("", include("copytrading.api.urls")),
    path("", include("reporting.api.urls")),
    path("", include("brokers.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("compliance.api.urls")),
    path("schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The balance guide's dashboard URL: the staff page lives in the admin site (its login and permissions).
    path("users", login_required(RedirectView.as_view(pattern_name="admin:nija-users", query_string=True,
                                                      http_method_names=["get", "head"]), login_url="admin:login"),
         name="users-dashboard"),
    path("", include("security.urls")),  # password reset by e-mail (staff and investors)
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/users", UsersSummaryAliasView.as_view(), name="users-balance-summary-alias"),  # the balance guide's URL
    path("", include("portal.urls")),
]
