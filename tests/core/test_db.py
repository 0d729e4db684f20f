"""core.db's bulk writers store exactly what Model.save() would, on SQLite and on PostgreSQL
(where values of stock fields skip get_db_prep_save and the rows go in one UNNEST statement)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from brokers.models import PaperBalance, PaperOrder
from brokers.services import credential_add
from core.db import rows_insert, rows_update


def paper_credential(make_account):
    return credential_add(actor="test", account=make_account(), venue="paper", api_key="paper-key-for-bulk",
                          api_secret="paper-secret-for-bulk")  # noqa: S106 - PAPER ignores its key


def _order(credential, n: int, **extra) -> PaperOrder:
    fields = dict(credential_id=credential.pk, venue_order_id=f"PO-bulk-{n}", client_order_id=f"bulk-{n}",
                  symbol="BTC/USD", side="buy", order_type="market", amount=Decimal("0.123456789012345678"),
                  status="filled", filled=Decimal("0.123456789012345678"), average_price=Decimal("50000.1"),
                  cost=Decimal("6172.83950617"), fee=Decimal("15.43209877"), fee_asset="usd",
                  created_at=timezone.now())
    fields.update(extra)
    return PaperOrder(**fields)


def test_rows_insert_stores_what_save_would_and_returns_ids(make_account):
    credential = paper_credential(make_account)
    bulk = [_order(credential, n) for n in range(3)] + [_order(credential, 3, limit_price=None, cost=None)]
    rows_insert(bulk, returning=True)
    saved = _order(credential, 99)
    saved.save()
    assert all(order.pk for order in bulk)
    fields = [f.attname for f in PaperOrder._meta.concrete_fields if f.attname not in ("id", "venue_order_id",
                                                                                       "client_order_id")]
    reference = PaperOrder.objects.filter(pk=saved.pk).values(*fields).get()
    for order in bulk[:3]:
        stored = PaperOrder.objects.filter(pk=order.pk).values(*fields).get()
        assert stored == {**reference, "created_at": stored["created_at"]}
        assert stored["fee_asset"] == "USD"  # CurrencyField's own preparation still ran
        assert abs(stored["created_at"] - order.created_at) < dt.timedelta(microseconds=1)
    assert PaperOrder.objects.filter(pk=bulk[3].pk).values_list("limit_price", "cost").get() == (None, None)


def test_rows_update_writes_each_rows_own_values(make_account):
    rows = [PaperBalance.objects.create(credential=paper_credential(make_account), asset="BTC") for _ in range(3)]
    for n, row in enumerate(rows):
        row.free, row.used = Decimal("12345.6789012") * (n + 1), Decimal(n)  # SQLite keeps 15 digits
    rows_update(rows, ["free", "used"])
    stored = {pk: (free, used) for pk, free, used in PaperBalance.objects.filter(asset="BTC")
              .values_list("pk", "free", "used")}
    assert stored == {row.pk: (row.free, row.used) for row in rows}


def test_rows_insert_stamps_auto_now_fields_a_model_instance_leaves_empty(db):
    from brokers.models import PaperPrice

    before = timezone.now()
    rows_insert([PaperPrice(symbol="BULK/USD", price=Decimal("1.5"))])
    stored = PaperPrice.objects.get(symbol="BULK/USD")
    assert stored.price == Decimal("1.5") and stored.updated_at >= before - dt.timedelta(seconds=1)
