"""``bulk_insert``: ``bulk_create`` for rows that mostly share their values.

A campaign batch saves 200 emails, their events, 200 history rows and 200 Marketo deliveries,
64 values a member, and most of them are the same in every row (the sender, the status, the
step, the kind, ...). ``bulk_create`` prepares every value of every row (``get_db_prep_save``)
and, on PostgreSQL, sends each column as an ``UNNEST`` array whose elements psycopg's
client-side binding quotes one by one in Python: 39% of a scheduler batch's CPU
(bench/workers.py, py-spy). ``bulk_insert`` prepares and sends a value every row shares
once, as a typed parameter, and only the columns whose values differ as arrays:

    INSERT INTO t (a, b, c) SELECT %s::varchar, u.b, %s::bigint
    FROM UNNEST(%s::text[]) AS u(b) RETURNING id

The rows written are the ones ``bulk_create`` writes (the same values: ``pre_save`` still runs
on every row, so ``auto_now`` times are each row's own), and, as with ``bulk_create``, the
primary keys come back in the order of the objects (``RETURNING`` follows ``UNNEST``'s order,
which Django's own bulk insert relies on too). Where this form does not fit (SQLite, a
single row, a primary key already set, a database default, an expression as a value, a field
with its own placeholder) it is ``bulk_create`` itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from django.db import connections, router
from django.db.models import AutoField, Model


def bulk_insert(objs: list[Model]) -> list[Model]:
    """Insert ``objs`` (unsaved instances of one model) as ``Model.objects.bulk_create(objs)``
    does: no signals, primary keys set on the objects. Returns ``objs``."""
    if not objs:
        return objs
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if not _unnest_fits(model, objs, connection):
        return model._default_manager.db_manager(alias).bulk_create(objs)
    opts = model._meta
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    fields = [field for field in opts.concrete_fields if not isinstance(field, AutoField)]
    ops = connection.ops
    selected, constants, sources, columns, arrays = [], [], [], [], []
    for field in fields:
        raw = [field.pre_save(obj, add=True) for obj in objs]
        if any(hasattr(value, "resolve_expression") for value in raw):
            return model._default_manager.db_manager(alias).bulk_create(objs)
        db_type = field.db_type(connection).split("(")[0]  # varchar, not varchar(255): no cut
        first = raw[0]
        if all(type(value) is type(first) and value == first for value in raw):
            selected.append(f"CAST(%s AS {db_type})")
            constants.append(field.get_db_prep_save(first, connection))
            continue
        column = ops.quote_name(field.column)
        columns.append(column)
        values = [field.get_db_prep_save(value, connection) for value in raw]
        as_json = _json_array(values)
        if as_json is None:
            selected.append(f"u.{column}")
            sources.append(f"UNNEST(%s::{db_type}[])")
            arrays.append(values)
        else:
            selected.append(f"CAST(u.{column} AS {db_type})")
            sources.append("JSON_ARRAY_ELEMENTS_TEXT(%s::json)")
            arrays.append(as_json)
    if not columns:  # every row alike: nothing to draw the rows from
        return model._default_manager.db_manager(alias).bulk_create(objs)
    # The constants' placeholders are all in the select list, before the sources'.
    sql = (f"INSERT INTO {ops.quote_name(opts.db_table)} "
           f"({', '.join(ops.quote_name(field.column) for field in fields)}) "
           f"SELECT {', '.join(selected)} "
           f"FROM ROWS FROM ({', '.join(sources)}) AS u({', '.join(columns)}) "
           f"RETURNING {ops.quote_name(opts.pk.column)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants, *arrays])
        returned = cursor.fetchall()
    if len(returned) != len(objs):
        raise AssertionError(f"{len(objs)} rows inserted, {len(returned)} ids returned")
    for obj, (pk,) in zip(objs, returned, strict=True):
        setattr(obj, opts.pk.attname, pk)
        obj._state.adding = False
        obj._state.db = alias
    return objs


#: Values that travel exactly as JSON text and back through a cast to the column's type.
_JSON_EXACT = (str, int, type(None))


def _json_array(values: list) -> str | None:
    """``values`` as one JSON array, when each is text, a whole number (or a boolean), a time
    or a date, or ``None``, which the column's cast reads back exactly; else ``None``.

    One ``json.dumps`` of the column is C all the way, where psycopg's client-side binding
    quotes an array's elements one by one in Python (and first scans the list for its
    element type)."""
    if all(isinstance(value, _JSON_EXACT) for value in values):
        text = json.dumps(values, ensure_ascii=False)
        # PostgreSQL's text cannot hold NUL: the array path fails on it as bulk_create does.
        return None if "\\u0000" in text else text
    if all(isinstance(value, (datetime, date)) or value is None for value in values):
        return json.dumps([value and value.isoformat() for value in values])
    return None


def _unnest_fits(model: type[Model], objs: list[Model], connection) -> bool:
    """Whether ``bulk_insert``'s one statement writes what ``bulk_create`` would (else it is
    ``bulk_create``): PostgreSQL, two rows or more of one concrete model with an automatic
    primary key not yet set, and plain columns (Django's own conditions for ``UNNEST``)."""
    opts = model._meta
    if connection.vendor != "postgresql" or len(objs) < 2:
        return False
    if opts.parents or not isinstance(opts.pk, AutoField) \
            or list(opts.db_returning_fields) != [opts.pk]:
        return False
    if any(type(obj) is not model or obj._is_pk_set() for obj in objs):
        return False
    for field in opts.concrete_fields:
        if field.primary_key:
            continue
        target = field.target_field if field.is_relation else field
        if field.generated or field.has_db_default() or hasattr(field, "get_placeholder") \
                or target.get_internal_type() not in connection.data_types:
            return False
    return True
