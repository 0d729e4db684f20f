"""core.db's bulk writers store exactly what Model.save() would, on SQLite and on PostgreSQL
(where values of stock fields skip get_db_prep_save and the rows go in one UNNEST statement); its
reader gives the ORM's Python values, and its compare-and-set says which rows it moved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from brokers.models import PaperBalance, PaperOrder
from brokers.services import credential_add
from core.db import rows_compare_and_set, rows_insert, rows_select, rows_update


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


def test_rows_select_reads_python_values_filtered_and_ordered(make_account):
    from brokers.models import PaperBehaviour

    credential = paper_credential(make_account)
    for asset, free in (("ETH", "2.5"), ("BTC", "0.123456789012345")):
        PaperBalance.objects.create(credential=credential, asset=asset, free=Decimal(free), used=Decimal("0.1"))
    PaperBehaviour.objects.create(credential=credential, fault="timeout", fault_operations=["create_order"])
    rows = rows_select(PaperBalance, ["asset", "free", "used"], where={"credential_id": credential.pk},
                       order_by=["asset"])
    assert rows == [("BTC", Decimal("0.123456789012345"), Decimal("0.1")), ("ETH", Decimal("2.5"), Decimal("0.1"))]
    assert all(isinstance(value, Decimal) for _, free, used in rows for value in (free, used))
    assert rows_select(PaperBalance, ["asset"], where_in={"credential_id": [credential.pk], "asset": ["ETH", "SOL"]},
                       for_update=True) == [("ETH",)]
    assert rows_select(PaperBalance, ["asset"], where_in={"asset": []}) == []  # nothing asked, nothing read
    assert rows_select(PaperBehaviour, ["fault", "fault_operations"], where_in={"credential_id": [credential.pk]}) == [
        ("timeout", ["create_order"])]


def test_rows_select_takes_field_names_not_sql(make_account):
    from django.core.exceptions import FieldDoesNotExist

    with pytest.raises(FieldDoesNotExist):
        rows_select(PaperBalance, ["asset; DROP TABLE x"], where={"credential_id": 1})


def test_rows_compare_and_set_moves_each_row_once_and_says_which(make_account):
    credential = paper_credential(make_account)
    orders = [_order(credential, n, status="open") for n in range(3)]
    rows_insert(orders, returning=True)
    ids = [o.pk for o in orders]
    PaperOrder.objects.filter(pk=ids[2]).update(status="filled")
    moved = rows_compare_and_set(PaperOrder, ids=ids, expected={"status": "open"},
                                 changes={"status": "canceled", "fee_asset": "eur"}, increments=[])
    assert moved == sorted(ids[:2])
    # A second caller with the very same values gets nothing: the rows are no longer "open".
    assert rows_compare_and_set(PaperOrder, ids=ids, expected={"status": "open"}, changes={"status": "canceled"}) == []
    assert rows_compare_and_set(PaperOrder, ids=[], expected={"status": "open"}, changes={"status": "x"}) == []
    stored = dict(PaperOrder.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert stored == {ids[0]: "canceled", ids[1]: "canceled", ids[2]: "filled"}
    assert set(PaperOrder.objects.filter(pk__in=ids[:2]).values_list("fee_asset", flat=True)) == {"EUR"}  # prepared


def test_rows_compare_and_set_increments_counters(make_account):
    from copytrading.models import CopyOrder, MasterSignal

    account = make_account()
    signal = MasterSignal.objects.create(source="manual", source_id="cas-1", venue="paper", symbol="BTC/USD",
                                         side="buy", amount=Decimal("1"), price=Decimal("1"),
                                         executed_at=timezone.now())
    order = CopyOrder.objects.create(signal=signal, account=account, venue="paper", symbol="BTC/USD", side="buy",
                                     quantity=Decimal("1"), client_order_id="cas-order")
    claimed = rows_compare_and_set(CopyOrder, ids=[order.pk], expected={"status": "PLANNED"},
                                   changes={"status": "SUBMITTING", "claim_token": "t", "claimed_at": timezone.now()},
                                   increments=["attempts"])
    order.refresh_from_db()
    assert claimed == [order.pk] and (order.status, order.claim_token, order.attempts) == ("SUBMITTING", "t", 1)
    assert order.claimed_at is not None
