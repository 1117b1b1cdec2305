"""PostgREST's writes on a table, as one data-modifying CTE the representation reads from.

`POST` inserts the JSON object or array (upserts with `Prefer: resolution=…`), `PATCH`
updates and `DELETE` deletes the rows the filters select. The statement runs as the
caller, so grants and RLS decide: a write the caller may not do fails in Postgres (42501)
and nothing changes. The rows written come back through the read builder, so `select`
(with embedding) shapes `Prefer: return=representation` as it shapes a GET.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from psycopg import sql

from standins.supabase.errors import RestError
from standins.supabase.grammar import Condition, Level, Query, not_implemented
from standins.supabase.reads import condition_sql, order_term_sql, page_sql
from standins.supabase.schema_cache import SCHEMA

SOURCE = "pgrst_source"
TARGET = "pgrst_target"
# an insert's rows with whether each was inserted (not merged into an existing row)
MUTATION = "pgrst_mutation"
INSERTED_SQL = sql.SQL("(select count(*) from {} where pgrst_inserted)").format(
    sql.Identifier(MUTATION)
)


def _invalid(message: str = "Empty or invalid json") -> RestError:
    return RestError(400, "PGRST102", message)


def payload(raw: bytes, kind: str) -> list[dict[str, Any]]:
    """The body as a list of objects: an object (or, to insert, an array of objects)."""
    if kind == "delete":
        return []
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise _invalid() from None
    if isinstance(body, dict):
        return [body]
    if kind == "insert" and isinstance(body, list) and all(isinstance(x, dict) for x in body):
        return body
    raise _invalid()


def representation_query(query: Query) -> Query:
    """What reads the written rows back: the same select and embedded levels, but the
    root's filters, order and range belong to the write, not to its result."""
    levels = {path: level for path, level in query.levels.items() if path}
    return replace(query, levels={(): Level(), **levels})


def _columns(query: Query, rows: Sequence[dict[str, Any]]) -> list[str]:
    if query.columns is not None:
        return list(query.columns)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def mutation_sql(
    table: str,
    kind: str,
    query: Query,
    rows: Sequence[dict[str, Any]],
    resolution: str | None,
    *,
    returning_rows: bool,
    missing_default: bool = False,
) -> sql.Composed:
    """`with pgrst_source as (<insert|update|delete> … returning …)`."""
    relation = sql.Identifier(SCHEMA, table)
    target_sql = sql.Identifier(TARGET)
    returning: sql.Composable = sql.SQL("returning 1")
    if returning_rows:
        # the whole row, and xmax = 0 for a row inserted rather than merged (upserts)
        returning = sql.SQL("returning {t} as pgrst_row, ({t}.xmax = 0) as pgrst_inserted").format(
            t=target_sql
        )
    document = sql.SQL("{}::json").format(
        sql.Literal(json.dumps(rows if kind == "insert" else rows[0] if rows else {}))
    )
    root = query.levels.get((), Level())
    where_parts = [condition_sql(TARGET, c) for c in root.conditions]
    where = sql.SQL(" where ") + sql.SQL(" and ").join(where_parts) if where_parts else sql.SQL("")
    if kind != "insert" and (root.limit is not None or root.offset or root.order):
        if any(term.relation for term in root.order):
            raise not_implemented("ordering a PATCH or DELETE by an embedded column")
        # a limited update/delete: the rows the filters, order and range pick, by ctid
        order = sql.SQL(", ").join(order_term_sql(TARGET, term) for term in root.order)
        picked = sql.SQL("select {t}.ctid from {rel} as {t}{where}{order}{page}").format(
            t=sql.Identifier(TARGET),
            rel=relation,
            where=where,
            order=sql.SQL(" order by ") + order if root.order else sql.SQL(""),
            page=page_sql(root.limit, root.offset),
        )
        where = sql.SQL(" where {}.ctid = any(array({}))").format(sql.Identifier(TARGET), picked)
    if kind == "insert":
        columns = _columns(query, rows)
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        conflict: sql.Composable = sql.SQL("")
        if resolution:
            keys = query.on_conflict
            # without conflict columns (a table with no primary key), any conflict
            target: sql.Composable = (
                sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(k) for k in keys))
                if keys
                else sql.SQL("")
            )
            if resolution == "ignore-duplicates" or not columns:
                action: sql.Composable = sql.SQL("do nothing")
            else:
                action = sql.SQL("do update set {}").format(
                    sql.SQL(", ").join(
                        sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                        for c in columns
                    )
                )
            conflict = sql.SQL(" on conflict {} {}").format(target, action)
        if columns and missing_default and rows:
            # Prefer: missing=default: a key an object lacks takes the column's default
            statement = sql.SQL(
                "insert into {rel} as {t} ({names}) values {rows}{conflict} {returning}"
            ).format(
                rel=relation,
                t=target_sql,
                names=names,
                rows=sql.SQL(", ").join(_values_row(row, columns) for row in rows),
                conflict=conflict,
                returning=returning,
            )
        elif columns:
            statement = sql.SQL(
                "insert into {rel} as {t} ({names}) select {names} "
                "from json_populate_recordset(null::{rel}, {doc}){conflict} {returning}"
            ).format(
                rel=relation,
                t=target_sql,
                names=names,
                doc=document,
                conflict=conflict,
                returning=returning,
            )
        else:
            # `[{}]`: rows of defaults, one per object
            statement = sql.SQL(
                "insert into {rel} as {t} select from json_array_elements({doc}) {returning}"
            ).format(rel=relation, t=target_sql, doc=document, returning=returning)
    elif kind == "update":
        columns = list(rows[0]) if rows else []
        if not columns:
            statement = sql.SQL("select * from {} where false").format(relation)
        else:
            statement = sql.SQL(
                "update {rel} as {target} set {sets} "
                "from (select * from json_populate_record(null::{rel}, {doc})) as _{where} "
                "{returning_target}"
            ).format(
                rel=relation,
                target=sql.Identifier(TARGET),
                sets=sql.SQL(", ").join(
                    sql.SQL("{} = _.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in columns
                ),
                doc=document,
                where=where,
                returning_target=_returning_target(returning_rows),
            )
    else:
        statement = sql.SQL("delete from {rel} as {target}{where} {returning_target}").format(
            rel=relation,
            target=sql.Identifier(TARGET),
            where=where,
            returning_target=_returning_target(returning_rows),
        )
    if kind == "insert" and returning_rows:
        return sql.SQL("with {m} as ({s}), {src} as (select (pgrst_row).* from {m})").format(
            m=sql.Identifier(MUTATION), s=statement, src=sql.Identifier(SOURCE)
        )
    return sql.SQL("with {} as ({})").format(sql.Identifier(SOURCE), statement)


def _values_row(row: dict[str, Any], columns: Sequence[str]) -> sql.Composable:
    """One VALUES row: each JSON value as the text its column parses (json_populate_record's
    reading), DEFAULT where the object has no such key."""
    cells: list[sql.Composable] = []
    for column in columns:
        if column not in row:
            cells.append(sql.SQL("default"))
        elif row[column] is None:
            cells.append(sql.SQL("null"))
        elif isinstance(row[column], str):
            cells.append(sql.Literal(row[column]))
        else:
            cells.append(sql.Literal(json.dumps(row[column])))
    return sql.SQL("({})").format(sql.SQL(", ").join(cells))


def _returning_target(rows: bool) -> sql.Composable:
    if rows:
        return sql.SQL("returning {}.*").format(sql.Identifier(TARGET))
    return sql.SQL("returning 1")


def put_query(query: Query, row: dict[str, Any], key: Sequence[str]) -> Query:
    """PUT's rules (PostgREST): the filters are `eq` on every primary-key column and nothing
    else, no range, and the object's key values are the URL's; then it is an insert that
    merges on the primary key."""
    root = query.levels.get((), Level())
    named: dict[str, str] = {}
    for condition in root.conditions:
        if (
            isinstance(condition, Condition)
            and condition.operator == "eq"
            and not condition.negated
            and not condition.quantifier
            and not condition.field.json_path
            and isinstance(condition.value, str)
        ):
            named[condition.field.name] = condition.value
        else:
            named = {}
            break
    if not key or sorted(named) != sorted(key) or len(named) != len(root.conditions):
        raise RestError(
            405,
            "PGRST105",
            "Filters must include all and only primary key columns with 'eq' operators",
        )
    if root.limit is not None or root.offset:
        raise RestError(
            400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT"
        )
    for column, value in named.items():
        given = row.get(column)
        if given is None or (given if isinstance(given, str) else json.dumps(given)) != value:
            raise RestError(
                400, "PGRST115", "Payload values do not match URL in primary key column(s)"
            )
    return replace(query, on_conflict=tuple(key))
