"""The OpenAPI schema documents every operation's parameters, responses and error responses; the
docs page (Swagger UI from the installed sidecar package, no CDN) is for signed-in users only."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db


# Operations whose success body is a named serializer (every read but the schema itself).
TYPED = {"users_balance_summary", "staff_accounts_list", "staff_account_detail", "staff_balances_list",
         "staff_alerts_list", "staff_master_signals_list", "staff_master_signal_detail",
         "staff_master_signal_copy_orders", "staff_missed_trades_list", "staff_audit_events_list",
         "staff_reconciliation_breaks_list", "reporting_transactions", "reporting_positions",
         "reporting_performance", "reporting_reports_list", "reporting_report_detail", "reporting_tax_report",
         "reporting_fee_statement"}


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("vera", password="pw-docs-test", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    return client


def _schema(client) -> dict:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_read_operation_documents_its_success_and_error_responses(viewer):
    schema = _schema(viewer)
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 9
    assert "/api/v1/users" in schema["paths"] and "/api/users" not in schema["paths"]  # the alias once
    for path, method, op in operations:
        if method != "get":
            continue
        codes = set(op["responses"])
        assert "200" in codes and {"401", "403"} <= codes, (path, codes)
        for code in codes - {"200"}:
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error"), (path, code, ref)
        if op["operationId"] in TYPED:
            success = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert "$ref" in success, (path, success)  # a typed body, not a bare object
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"


def test_the_docs_page_serves_swagger_from_the_installed_package(viewer):
    page = viewer.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in s for s in sources)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]  # no CDN
    assert "<script>" not in html  # the init script is its own URL (a strict CSP allows it)
    script = viewer.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()


def test_the_docs_and_schema_refuse_anonymous_callers(client):
    for url in ("/api/v1/docs/", "/api/v1/schema/"):
        response = client.get(url)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
