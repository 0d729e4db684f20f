"""The project's only hand-written SQL (tests/core/test_imports.py keeps it so), behind named
functions that take models and field names, never SQL text: hot paths (a copy fan-out writes
thousands of rows per signal, PAPER answers every venue call) where the ORM's query building costs
more CPU than the queries themselves, and the compare-and-set the ORM cannot express (an UPDATE
that says which rows it moved). Same connection and transaction as the ORM; errors are still
Django's (IntegrityError ...)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone


@contextlib.contextmanager
def prepared_cursor() -> Iterator[Any]:
    """On PostgreSQL a cursor that binds server-side, so psycopg prepares a statement run often on
    one connection (parsed and planned once) and pipelines executemany; Django's cursors bind
    client-side, re-parsing every query's text. Elsewhere Django's cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def database_ping() -> None:
    """One trivial statement: raises the driver's error when the database does not answer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def sql_in(column: str, values: list) -> tuple[str, list]:
    """`column IN values` as SQL and params. On PostgreSQL one array parameter: the statement's text
    stays the same whatever the number of values, so it is prepared once per connection."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type, name: str) -> str:
    """The quoted column of a field (by name or attname): a name that is no field raises FieldDoesNotExist."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _reader(field: Any) -> Callable[[Any], Any] | None:
    """How a raw column value becomes the field's Python value where the driver differs from the ORM."""
    if isinstance(field, models.DecimalField):
        return lambda value: None if value is None else db_decimal(value)
    if isinstance(field, models.JSONField):  # SQLite and Django's psycopg loaders hand JSON back as text
        return lambda value: json.loads(value) if isinstance(value, str) else value
    return None


def rows_select(model: type, columns: Sequence[str], *, where_in: Mapping[str, Sequence[Any]] | None = None,
                where: Mapping[str, Any] | None = None, order_by: Sequence[str] = (),
                for_update: bool = False) -> list[tuple]:
    """SELECT these fields of `model` as tuples of Python values (Decimal for decimals, JSON decoded),
    where each `where_in` field is in its values and each `where` field equals its value, ordered by
    `order_by`, locked FOR UPDATE where the database can. A prepared statement on PostgreSQL whose
    text does not depend on the number of values. An empty `where_in` list selects nothing."""
    where_in, where = where_in or {}, where or {}
    if any(len(values) == 0 for values in where_in.values()):
        return []
    fields = [model._meta.get_field(name) for name in columns]
    clauses, params = [], []
    for name, values in where_in.items():
        clause, values_params = sql_in(_column(model, name), list(values))
        clauses.append(clause)
        params += values_params
    for name, value in where.items():
        clauses.append(f"{_column(model, name)} = %s")
        params.append(value)
    sql = f"SELECT {', '.join(_column(model, name) for name in columns)} FROM {table(model)}"  # noqa: S608 - model names
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if order_by:
        sql += " ORDER BY " + ", ".join(_column(model, name) for name in order_by)
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    readers = [_reader(f) for f in fields]
    if not any(readers):
        return [tuple(row) for row in rows]
    return [tuple(read(value) if read else value for read, value in zip(readers, row, strict=True)) for row in rows]


def rows_compare_and_set(model: type, *, ids: Sequence[int], expected: Mapping[str, Any],
                         changes: Mapping[str, Any], increments: Sequence[str] = ()) -> list[int]:
    """Compare-and-set over many rows in one statement: UPDATE the rows among `ids` whose fields
    still equal `expected`, setting `changes` and adding 1 to each `increments` field, and return
    the ids it moved, sorted (UPDATE ... RETURNING: the ORM's update() returns only a count). Each
    row moves at most once, so of two callers racing for a row exactly one gets it back, even when
    both set the same values (which a count or a re-read afterwards could not tell apart)."""
    if not ids:
        return []
    sets, params = [], []
    for name, value in changes.items():
        field = model._meta.get_field(name)
        sets.append(f"{_column(model, name)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    sets += [f"{_column(model, name)} = {_column(model, name)} + 1" for name in increments]
    by_id, id_params = sql_in(_column(model, "id"), list(ids))
    clauses = [by_id] + [f"{_column(model, name)} = %s" for name in expected]
    params += id_params + list(expected.values())
    sql = (f"UPDATE {table(model)} SET {', '.join(sets)} WHERE {' AND '.join(clauses)} "  # noqa: S608 - model names
           f"RETURNING {_column(model, 'id')}")
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(pk for (pk,) in cursor.fetchall())


def db_decimal(value: Any) -> Decimal:
    """SQLite hands NUMERIC columns back as int or float; repr() keeps the digits that were stored."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# Stock field types whose get_db_prep_save hands a value of this exact Python type to PostgreSQL's
# driver unchanged (checked against Django 5.2: to_python is the identity for it, and the backend's
# adapt_* returns it as is). Aware datetimes only: a naive one takes the full path and its warning.
_PASS_THROUGH = (
    (models.DecimalField, Decimal), (models.CharField, str), (models.TextField, str), (models.IntegerField, int),
    (models.BooleanField, bool), (models.DateTimeField, dt.datetime), (models.ForeignKey, int),
)
_PREP_METHODS = ("get_prep_value", "get_db_prep_value", "get_db_prep_save")


def _pass_through_type(field: Any) -> type | None:
    if connection.vendor != "postgresql":
        return None
    for base, python_type in _PASS_THROUGH:
        # A subclass that changes preparation (CurrencyField upper-cases) always takes the full path.
        if isinstance(field, base) and all(getattr(type(field), m) is getattr(base, m) for m in _PREP_METHODS):
            return python_type
    return None


def _db_values(fields: list, objs: list) -> list[list]:
    """Each field's value as the driver takes it. get_db_prep_save costs a few µs a call, the bulk
    of writing thousands of rows; values it would hand over unchanged skip it."""
    plans = [(f.attname, _pass_through_type(f), f) for f in fields]
    rows = []
    for obj in objs:
        row = []
        for attname, python_type, field in plans:
            value = getattr(obj, attname)
            if python_type is not None and (value is None or (
                    type(value) is python_type and (python_type is not dt.datetime or value.tzinfo is not None))):
                row.append(value)
            else:
                row.append(field.get_db_prep_save(value, connection))
        rows.append(row)
    return rows


def _unnest(fields: list) -> str:
    """`unnest(%s::type[], ...)`: one array parameter per column, so a statement covers any number
    of rows with the same text (prepared once) and PostgreSQL runs it once, not once per row."""
    return "unnest(" + ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields) + ")"


def rows_insert(objs: list[Any], *, model: type | None = None, returning: bool = False) -> None:
    """INSERT objects as rows of `model` (default: the objects' class), each concrete field but the
    id read from the attribute of its name. Columns the objects do not have (plain objects carrying
    only what a service set) take the field's default, auto_now fields the current time, prepared
    once for every row. One statement on PostgreSQL (COPY, or INSERT ... SELECT unnest when the ids
    are wanted back), one prepared executemany elsewhere. With `returning`, each object gets its id
    as `pk`. No signals, no save(): for rows a service has built and validated."""
    if not objs:
        return
    model = model or type(objs[0])
    now, first = timezone.now(), objs[0]
    fields, missing = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        stamped = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        # A model instance leaves its auto_now(_add) fields empty until save(): stamp them here.
        given = hasattr(first, f.attname) and not (stamped and getattr(first, f.attname) is None)
        (fields if given else missing).append(f)
    defaults = [f.get_db_prep_save(now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
                                   else f.get_default(), connection) for f in missing]
    rows = [row + defaults for row in _db_values(fields, objs)]
    fields += missing
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    if connection.vendor == "postgresql":
        with prepared_cursor() as cursor:
            if not returning:  # COPY streams the rows in one statement, on the caller's transaction
                with cursor.copy(f"COPY {table(model)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            cursor.execute(f"INSERT INTO {table(model)} ({names}) SELECT * FROM {_unnest(fields)} RETURNING id",  # noqa: S608
                           [list(col) for col in zip(*rows, strict=True)])
            # INSERT ... SELECT unnest returns rows in input order (Django's bulk_create relies on it)
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        return
    sql = f"INSERT INTO {table(model)} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    with connection.cursor() as cursor:
        if not returning:
            cursor.executemany(sql, rows)
            return
        for obj, row in zip(objs, rows, strict=True):
            cursor.execute(sql, row)
            obj.pk = cursor.lastrowid


def rows_update(objs: list[Any], field_names: list[str]) -> None:
    """UPDATE these fields of model instances by id, in one statement on PostgreSQL (UPDATE ...
    FROM unnest), one prepared executemany elsewhere. Far cheaper than bulk_update's CASE
    expressions for many rows with distinct values."""
    if not objs:
        return
    model = type(objs[0])
    fields = [model._meta.get_field(name) for name in field_names]
    rows = _db_values(fields, objs)
    if connection.vendor == "postgresql":
        pk = model._meta.pk
        names = [connection.ops.quote_name(f.column) for f in fields]
        sets = ", ".join(f"{name} = v.{name}" for name in names)
        sql = (f"UPDATE {table(model)} AS t SET {sets} FROM {_unnest([*fields, pk])} "  # noqa: S608 - model names
               f"AS v({', '.join(names)}, _pk) WHERE t.{connection.ops.quote_name(pk.column)} = v._pk")
        with prepared_cursor() as cursor:
            cursor.execute(sql, [list(col) for col in zip(*rows, strict=True)] + [[obj.pk for obj in objs]])
        return
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table(model)} SET {sets} WHERE id = %s",  # noqa: S608 - model names
                           [row + [obj.pk] for row, obj in zip(rows, objs, strict=True)])
