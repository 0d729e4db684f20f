"""The admin is the registry: operators change trading state and risk through the services,
viewers only read. Proven through the test client with the real groups."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from accounts.models import Account, RiskProfile
from compliance.models import AuditEvent
from compliance.services import notification_preferences_get

CHANGELIST = "admin:accounts_account_changelist"


def _staff(username: str, group: str) -> User:
    user = User.objects.create_user(username=username, password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator_client(client, db):
    client.force_login(_staff("olivia", "operator"))
    return client


@pytest.fixture
def viewer_client(client, db):
    client.force_login(_staff("victor", "viewer"))
    return client


def _action(client, action: str, account: Account, reason: str = ""):
    data = {"action": action, "_selected_action": [account.pk], "apply": "1", "reason": reason}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_changelist_shows_registry_columns_and_search(operator_client, make_account):
    make_account("daivon_frazier", full_name="Daivon Frazier", email="daivon@example.com")
    make_account("tania_gilbert")
    page = operator_client.get(reverse(CHANGELIST), {"q": "daivon@example"}).content.decode()
    assert "daivon_frazier" in page and "tania_gilbert" not in page
    for column in ("Status", "Subscription tier", "Account type", "Trading enabled", "Created at"):
        assert column in page
    filtered = operator_client.get(reverse(CHANGELIST), {"status__exact": "ACTIVE"}).content.decode()
    assert "tania_gilbert" in filtered


def test_disable_action_asks_for_a_reason_first(operator_client, make_account):
    account = make_account("a1")
    page = operator_client.post(reverse(CHANGELIST), {"action": "disable_trading", "_selected_action": [account.pk]})
    assert page.status_code == 200
    assert "Reason" in page.content.decode()
    account.refresh_from_db()
    assert account.trading_enabled is True


def test_operator_disables_with_reason_through_the_service(operator_client, make_account):
    account = make_account("a1")
    response = _action(operator_client, "disable_trading", account, reason="margin call")
    assert "Disable trading: 1 done" in response.content.decode()
    account.refresh_from_db()
    assert (account.status, account.trading_enabled) == ("SUSPENDED", False)
    event = AuditEvent.objects.get(action="TRADING_DISABLE")
    assert (event.actor, event.reason) == ("olivia", "margin call")


def test_operator_action_without_reason_changes_nothing(operator_client, make_account):
    account = make_account("a1")
    response = _action(operator_client, "suspend_accounts", account, reason="")
    assert "A reason is required" in response.content.decode()
    account.refresh_from_db()
    assert account.status == "ACTIVE"


def test_operator_invalid_transition_is_reported_not_applied(operator_client, make_account):
    account = make_account("a1")
    response = _action(operator_client, "reactivate_accounts", account, reason="why not")
    assert "account is ACTIVE" in response.content.decode()
    assert not AuditEvent.objects.filter(action="ACCOUNT_REACTIVATE").exists()


def test_operator_enables_and_reactivates(operator_client, make_account):
    account = make_account("a1", active=False)
    _action(operator_client, "enable_trading", account)
    account.refresh_from_db()
    assert account.trading_enabled
    _action(operator_client, "suspend_accounts", account, reason="review")
    _action(operator_client, "reactivate_accounts", account, reason="cleared")
    account.refresh_from_db()
    assert account.status == "ACTIVE"


def test_status_and_trading_are_not_editable_fields(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    page = operator_client.get(url).content.decode()
    assert 'name="status"' not in page and 'name="trading_enabled"' not in page
    assert 'name="risk_profile-0-max_position_pct"' in page


def _form_values(form) -> dict:
    """What a browser would post back for an unchanged bound-from-initial form."""
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        key = form.add_prefix(name)
        if isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list):
            data[key] = str(value).replace("'", '"')
        elif hasattr(value, "pk"):
            data[key] = value.pk
        else:
            data[key] = "" if value is None else value
    return data


def _change_form_post_data(client, url: str) -> dict:
    context = client.get(url).context
    data = _form_values(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            data.update(_form_values(form))
    return data


def test_operator_edits_risk_profile_inline_through_the_service(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = _change_form_post_data(operator_client, url)
    data["risk_profile-0-max_position_pct"] = "12.5"
    response = operator_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert RiskProfile.objects.get(account=account).max_position_pct == Decimal("12.5")
    assert AuditEvent.objects.filter(action="RISK_PROFILE_UPDATE", actor="olivia").exists()

    data["risk_profile-0-max_position_pct"] = "150"
    response = operator_client.post(url, data)
    assert response.status_code == 200
    assert RiskProfile.objects.get(account=account).max_position_pct == Decimal("12.5")


def test_operator_blocks_an_instrument_in_the_risk_profile_inline(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    assert b'name="risk_profile-0-blocked_instruments"' in operator_client.get(url).content
    data = _change_form_post_data(operator_client, url)
    data["risk_profile-0-blocked_instruments"] = '["xrp-usd"]'
    response = operator_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert RiskProfile.objects.get(account=account).blocked_instruments == ["XRP/USD"]


def test_operator_edits_registry_details_with_an_audit_event(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = _change_form_post_data(operator_client, url)
    data["email"] = "new@example.com"
    assert operator_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert account.email == "new@example.com"
    event = AuditEvent.objects.get(action="ACCOUNT_UPDATE")
    assert event.after == {"email": "new@example.com"} and event.actor == "olivia"


def test_viewer_reads_but_cannot_change(viewer_client, make_account):
    account = make_account("a1")
    assert viewer_client.get(reverse(CHANGELIST)).status_code == 200
    page = viewer_client.get(reverse(CHANGELIST)).content.decode()
    assert "disable_trading" not in page  # actions are not offered
    response = _action(viewer_client, "disable_trading", account, reason="try")
    account.refresh_from_db()
    assert account.trading_enabled is True
    assert not AuditEvent.objects.filter(action="TRADING_DISABLE").exists()
    assert response.status_code in (200, 403)
    change = viewer_client.post(reverse("admin:accounts_account_change", args=[account.pk]), {"full_name": "X"})
    assert change.status_code == 403
    assert viewer_client.get(reverse("admin:accounts_account_add")).status_code == 403


def test_audit_events_are_read_only_for_everyone(admin_client, make_account):
    make_account("a1")
    event = AuditEvent.objects.first()
    assert admin_client.get(reverse("admin:compliance_auditevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:compliance_auditevent_add")).status_code == 403
    assert admin_client.post(reverse("admin:compliance_auditevent_delete", args=[event.pk])).status_code == 403
    page = admin_client.get(reverse("admin:compliance_auditevent_change", args=[event.pk])).content.decode()
    assert 'name="reason"' not in page


def test_operator_onboards_through_the_add_form(operator_client):
    response = operator_client.post(reverse("admin:accounts_account_add"), {
        "user_id": "new_investor", "full_name": "New Investor", "email": "ni@example.com", "phone": "",
        "account_type": "investor", "tier": "income", "initial_capital": "2500", "initial_capital_currency": "USD",
        "portal_user": "", "risk_tolerance": "LOW",
    })
    assert response.status_code == 302
    account = Account.objects.get(user_id="new_investor")
    assert account.status == "PENDING" and account.risk_profile.risk_tolerance == "LOW"
    assert AuditEvent.objects.get(action="USER_CREATE").actor == "olivia"


# --- notification preferences (compliance.NotificationPreference, edited on the account page) ----------
def test_operator_turns_on_the_daily_summary_and_off_balance_alerts(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = _change_form_post_data(operator_client, url)
    assert data["notification_preference-0-weekly_summary"] == "on"  # the defaults are shown
    data["notification_preference-0-daily_summary"] = "on"
    del data["notification_preference-0-balance_alerts"]
    response = operator_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    prefs = notification_preferences_get(account=account)
    assert (prefs.daily_summary, prefs.balance_alerts, prefs.weekly_summary) == (True, False, True)
    event = AuditEvent.objects.get(action="NOTIFICATION_PREFERENCES_UPDATE", target_id="a1")
    assert event.after == {"daily_summary": True, "balance_alerts": False}
    assert event.actor == "olivia"


def test_saving_the_page_unchanged_stores_no_preferences(operator_client, make_account):
    account = make_account("a1")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    response = operator_client.post(url, _change_form_post_data(operator_client, url))
    assert response.status_code == 302
    assert notification_preferences_get(account=account).pk is None
    assert not AuditEvent.objects.filter(action="NOTIFICATION_PREFERENCES_UPDATE").exists()
