"""Every URL in the URLconf, enumerated (a new URL is covered without anyone remembering it):
anonymous callers, an investor on another investor's resources, and a viewer on operator writes
are all denied, and a denied write changes nothing in the database."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

from reporting.services import ledger_import_csv, report_generate

pytestmark = pytest.mark.django_db

# Reachable without signing in, on purpose: the probe, the sign-in pages, the portal's one-time-link
# and password-reset pages (a link's token is its authentication; a bad one is refused on the page),
# and the signed webhook (which authenticates each request by its signature and refuses an unsigned
# one with 401).
PUBLIC = {"healthz", "portal/login/", "portal/logout/", "admin/login/", "admin/logout/", "api/v1/signals",
          "portal/invitation/<uidb64>/<token>/", "portal/password/set/", "portal/password/reset/",
          "portal/password/reset/sent/", "portal/password/reset/<uidb64>/<token>/",
          # the staff password reset by e-mail (the same reasoning as the portal's)
          "password-reset/", "password-reset/sent/", "password-reset/<uidb64>/<token>/", "password-reset/complete/"}
# Portal forms about the signed-in investor's own login: a POST by A answers A (a form with errors),
# never with anything of B's.
OWN_FORMS = {"portal/password/change/", "portal/two-factor/"}
CSV = ("occurred_at,kind,venue,asset,amount,counter_asset,counter_amount,fee_asset,fee_amount,external_id\n"
       "2026-01-05T09:00:00Z,deposit,paper,USD,10000,,,,,d-1\n")


def _routes(resolver=None, prefix: str = ""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry.pattern, RegexPattern):
            if entry.name == "app_list":
                yield prefix + "accounts/"
            else:  # the admin's catch-all: any unknown admin path
                yield prefix + "no-such-page/"
        else:
            yield prefix + str(entry.pattern)


def _fill(route: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), route)


def _table_counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.managed}


@pytest.fixture
def two_investors(make_account):
    """Investor A (daivon) and B (tania), each with a ledger and a stored report."""
    logins = {}
    for user_id, username in (("daivon_frazier", "daivon"), ("tania_gilbert", "tania")):
        user = User.objects.create_user(username, password="pw-url-test")
        account = make_account(user_id)
        account.portal_user = user
        account.save(update_fields=["portal_user"])
        ledger_import_csv(actor="test", account=account, text=CSV)
        report = report_generate(account=account, period="daily", day=dt.date(2026, 1, 5))
        logins[username] = (user, account, report)
    return logins


def test_every_url_is_enumerated():
    routes = set(_routes())
    assert len(routes) > 150  # the admin's model pages are in: a broken walk would find few
    assert {"healthz", "api/v1/accounts/<str:user_id>/positions", "portal/", "admin/balances/", "api/v1/users",
            "api/users", "api/v1/docs/", "admin/accounts/apitoken/add/", "admin/users/", "users"} <= routes


def test_anonymous_callers_are_denied_everywhere_but_the_public_urls(client, two_investors):
    _, b_account, b_report = two_investors["tania"]
    values = {"user_id": b_account.user_id, "report_id": str(b_report.pk), "object_id": str(b_account.pk)}
    before = _table_counts()
    for route in sorted(set(_routes())):
        if route in PUBLIC:
            continue
        url = _fill(route, values)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (301, 302, 401, 403, 404, 405), (method, url, response.status_code)
            if response.status_code in (301, 302):
                assert "login" in response["Location"], (method, url, response["Location"])
            assert response.status_code < 500
    assert _table_counts() == before


def test_an_investor_cannot_reach_another_investors_anything(client, two_investors):
    a_user, a_account, a_report = two_investors["daivon"]
    _, b_account, b_report = two_investors["tania"]
    client.force_login(a_user)
    before = _table_counts()
    own = client.get(f"/portal/reports/{a_report.pk}/")
    assert own.status_code == 200  # the control: A reads A's own report
    for route in sorted(set(_routes())):
        if route in PUBLIC:
            continue
        # B's resources by B's id and by B's report id; also A's alias `me` with B's report id
        for values in ({"user_id": b_account.user_id, "report_id": str(b_report.pk), "object_id": str(b_account.pk)},
                       {"user_id": "me", "report_id": str(b_report.pk), "object_id": str(b_account.pk)}):
            url = _fill(route, values)
            if values["user_id"] == "me" and "report_id" not in route:
                continue  # `me` is A's own account: only B's report id through it must fail
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                body = response.content.decode(errors="replace")
                if url.startswith("/admin/"):
                    # not staff: every admin page sends A to the admin login
                    assert response.status_code in (302, 404, 405), (method, url, response.status_code)
                    if response.status_code == 302:
                        assert "/admin/login/" in response["Location"]
                    continue
                if route in ("portal/", "api/v1/schema/", "api/v1/docs/") and method == "get" and "<" not in route:
                    assert response.status_code == 200 and b_account.user_id not in body
                    continue
                if method == "get" and "<str:user_id>" not in route and "<int:report_id>" not in route:
                    continue
                if route in OWN_FORMS:
                    assert response.status_code == 200 and b_account.user_id not in body, (method, url)
                    continue
                assert response.status_code in (403, 404, 405), (method, url, response.status_code)
                assert b_account.user_id not in body and b_account.full_name not in body
    assert _table_counts() == before


def test_a_viewer_is_denied_every_operator_write_in_the_admin(client, two_investors):
    _, b_account, _ = two_investors["tania"]
    viewer = User.objects.create_user("vera", password="pw-url-test", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    before = _table_counts()
    writes = [r for r in set(_routes()) if r.startswith("admin/") and re.search(r"/(add|change|delete)/$", r)]
    assert len(writes) > 40
    for route in sorted(writes):
        url = _fill(route, {"object_id": str(b_account.pk)})
        response = client.post(url, {"full_name": "changed by a viewer", "status": "ACTIVE"})
        assert response.status_code in (403, 404), (url, response.status_code)
    assert _table_counts() == before
    b_account.refresh_from_db()
    assert b_account.full_name != "changed by a viewer"


# Signed-in, any login: the schema and the docs page. Everything else under /api/ that is not an
# investor's own account (`<user_id>`) nor public is a staff endpoint.
ANY_LOGIN_API = {"api/v1/schema/", "api/v1/docs/"}


def _staff_api_routes() -> list[str]:
    return sorted(r for r in set(_routes()) if r.startswith("api/") and r not in PUBLIC | ANY_LOGIN_API
                  and "<str:user_id>" not in r)


def test_an_investor_is_refused_every_staff_endpoint(client, two_investors):
    a_user, _, _ = two_investors["daivon"]
    _, b_account, b_report = two_investors["tania"]
    client.force_login(a_user)
    routes = _staff_api_routes()
    assert {"api/v1/users", "api/users"} <= set(routes)
    for route in routes:
        url = _fill(route, {"report_id": str(b_report.pk), "object_id": str(b_account.pk)})
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert response.json()["error"]["code"] in ("permission_denied", "not_found")
        assert b_account.user_id not in response.content.decode()


def test_a_viewer_reads_every_staff_endpoint_and_the_docs(client, two_investors):
    _, b_account, b_report = two_investors["tania"]
    viewer = User.objects.create_user("vera", password="pw-url-test", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    for route in _staff_api_routes() + sorted(ANY_LOGIN_API):
        url = _fill(route, {"user_id": b_account.user_id, "report_id": str(b_report.pk),
                            "object_id": str(b_account.pk)})
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
