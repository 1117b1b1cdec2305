"""PostgREST's read query, built with psycopg.sql from a parsed query string.

The same builder serves table reads, the representation a write returns, and the rows of a
set-returning function: only the source (`public.t`, a CTE, `public.fn(…)`) differs, as in
PostgREST, which wraps a function call in a FROM. Every name is a quoted identifier and
every value a literal Postgres parses as an untyped constant (PostgREST's unknown literal),
so the column's type decides how `5`, `true` or `{a,b}` are read. Rows become JSON in
Postgres (json_agg / row_to_json), with embedded resources as an object (to-one) or an
array (to-many), each read through its own subquery as the caller, so RLS filters them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count

from psycopg import sql

from standins.supabase import schema_cache
from standins.supabase.errors import RestError
from standins.supabase.grammar import (
    FTS_OPERATORS,
    QUANT_OPERATORS,
    SIMPLE_OPERATORS,
    Column,
    Condition,
    Embed,
    Field,
    Level,
    Logic,
    OrderTerm,
    Query,
    not_implemented,
)

_IS = {
    "null": "null",
    "not_null": "not null",
    "true": "true",
    "false": "false",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class Source:
    """What a level reads from: SQL for its FROM item, and the table name (for embedding)."""

    from_sql: sql.Composable
    table: str | None
    # the name columns are qualified with (PostgREST uses the table's or function's name)
    alias: str


@dataclass
class _Builder:
    query: Query
    keys: Sequence[schema_cache.ForeignKey]
    names: count[int] = field(default_factory=lambda: count(1))

    def alias(self, base: str) -> str:
        return f"{base}_{next(self.names)}"


def field_sql(alias: str, column: Field) -> sql.Composable:
    expr: sql.Composable = sql.SQL("{}.{}").format(
        sql.Identifier(alias), sql.Identifier(column.name)
    )
    for step in column.json_path:
        operand = sql.Literal(int(step.key)) if step.index else sql.Literal(step.key)
        expr = sql.SQL("{}{}{}").format(expr, sql.SQL(step.arrow), operand)
    return expr


def output_name(column: Column) -> str:
    if column.alias:
        return column.alias
    keys = [step.key for step in column.field.json_path if not step.index]
    return keys[-1] if keys else column.field.name


def _array_literal(values: Sequence[str]) -> str:
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def condition_sql(alias: str, condition: Condition | Logic) -> sql.Composable:
    if isinstance(condition, Logic):
        joined = sql.SQL(f" {condition.operator} ").join(
            condition_sql(alias, child) for child in condition.children
        )
        body: sql.Composable = sql.SQL("({})").format(joined)
    else:
        body = _leaf_sql(alias, condition)
    return sql.SQL("not {}").format(body) if condition.negated else body


def _leaf_sql(alias: str, condition: Condition) -> sql.Composable:
    column = field_sql(alias, condition.field)
    op = condition.operator
    value = condition.value
    if op == "in":
        assert isinstance(value, tuple)
        if value == ("",):
            return sql.SQL("{} = any('{{}}')").format(column)
        return sql.SQL("{} = any({})").format(column, sql.Literal(_array_literal(value)))
    assert isinstance(value, str)
    if op == "is":
        return sql.SQL("{} is {}").format(column, sql.SQL(_IS[value]))
    if op == "isdistinct":
        return sql.SQL("{} is distinct from {}").format(column, sql.Literal(value))
    if op in FTS_OPERATORS:
        language = (
            sql.SQL("{}, ").format(sql.Literal(condition.language))
            if condition.language
            else sql.SQL("")
        )
        return sql.SQL("{} @@ {}({}{})").format(
            column, sql.SQL(FTS_OPERATORS[op]), language, sql.Literal(value)
        )
    if op in SIMPLE_OPERATORS:
        return sql.SQL("{} {} {}").format(column, sql.SQL(SIMPLE_OPERATORS[op]), sql.Literal(value))
    if op in ("like", "ilike"):
        value = value.replace("*", "%")
    operand: sql.Composable = sql.Literal(value)
    if condition.quantifier:
        operand = sql.SQL("{}({})").format(sql.SQL(condition.quantifier), operand)
    return sql.SQL("{} {} {}").format(column, sql.SQL(QUANT_OPERATORS[op]), operand)


def order_term_sql(alias: str, term: OrderTerm) -> sql.Composable:
    words = [field_sql(alias, term.field)]
    if term.direction:
        words.append(sql.SQL(term.direction))
    if term.nulls:
        words.append(sql.SQL("nulls first" if term.nulls == "nullsfirst" else "nulls last"))
    return sql.SQL(" ").join(words)


def _order_sql(
    alias: str, terms: Sequence[OrderTerm], plan: Plan, table: str | None
) -> sql.Composable:
    if not terms:
        return sql.SQL("")
    parts = [
        order_term_sql(
            alias if term.relation is None else _related_order(term.relation, plan, table), term
        )
        for term in terms
    ]
    return sql.SQL(" order by ") + sql.SQL(", ").join(parts)


def page_sql(limit: int | None, offset: int) -> sql.Composable:
    out: sql.Composable = sql.SQL("")
    if limit is not None:
        out = sql.SQL(" limit {}").format(sql.Literal(limit))
    if offset:
        out = sql.SQL("{} offset {}").format(out, sql.Literal(offset))
    return out


@dataclass
class Plan:
    """One level's pieces: select list, lateral joins and WHERE conditions; and each
    embed's lateral join by name, with whether it is to-one."""

    columns: list[sql.Composable]
    joins: list[sql.Composable]
    conditions: list[sql.Composable]
    laterals: dict[str, tuple[str, bool]] = field(default_factory=dict)


def _related_order(relation: str, plan: Plan, table: str | None) -> str:
    """The lateral a `order=resource(col)` term reads from (a to-one embed), or PostgREST's
    PGRST108 / PGRST118."""
    if relation not in plan.laterals:
        raise _not_embedded(relation)
    lateral, to_one = plan.laterals[relation]
    if not to_one:
        raise RestError(
            400,
            "PGRST118",
            f"A related order on '{relation}' is not possible",
            details=f"'{table}' and '{relation}' do not form a many-to-one or one-to-one "
            "relationship",
        )
    return lateral


def _plan(
    builder: _Builder,
    items: Sequence[Column | Embed],
    alias: str,
    source: Source,
    path: tuple[str, ...],
    level: Level,
) -> Plan:
    embeds = {item.alias or item.target for item in items if isinstance(item, Embed)}
    # `resource=[not.]is.null` filters rows on whether an embed found anything
    on_embeds = [
        c
        for c in level.conditions
        if isinstance(c, Condition)
        and c.field.name in embeds
        and not c.field.json_path
        and c.operator == "is"
        and c.value in ("null", "not_null")
    ]
    plan = Plan([], [], [condition_sql(alias, c) for c in level.conditions if c not in on_embeds])
    laterals = plan.laterals
    for item in items:
        if isinstance(item, Column):
            if item.field.name == "*":
                plan.columns.append(sql.SQL("{}.*").format(sql.Identifier(alias)))
                continue
            expr = field_sql(alias, item.field)
            if item.cast:
                expr = sql.SQL("cast({} as {})").format(expr, sql.Identifier(item.cast))
            plan.columns.append(sql.SQL("{} as {}").format(expr, sql.Identifier(output_name(item))))
            continue
        if source.table is None:
            raise not_implemented("embedding resources in a function's result")
        name = item.alias or item.target
        rel = schema_cache.resolve(source.table, item.target, item.hint, builder.keys)
        child_alias = builder.alias(rel.child)
        child_path = (*path, name)
        child_level = builder.query.levels.get(child_path, Level())
        child = _plan(
            builder,
            item.children,
            child_alias,
            Source(sql.Identifier(schema_cache.SCHEMA, rel.child), rel.child, child_alias),
            child_path,
            child_level,
        )
        join_on = [
            sql.SQL("{}.{} = {}.{}").format(
                sql.Identifier(child_alias),
                sql.Identifier(child_col),
                sql.Identifier(alias),
                sql.Identifier(parent_col),
            )
            for parent_col, child_col in rel.on
        ]
        inner = _select_sql(
            child,
            sql.SQL("{} as {}").format(
                sql.Identifier(schema_cache.SCHEMA, rel.child), sql.Identifier(child_alias)
            ),
            join_on,
            _order_sql(child_alias, child_level.order, child, rel.child),
            page_sql(child_level.limit, child_level.offset),
        )
        lateral = builder.alias(f"{alias}_{rel.child}")
        join = "inner" if item.inner and rel.to_one else "left"
        if item.spread:
            if not rel.to_one:
                raise not_implemented("spreading a to-many resource (`...resource(…)`)")
            # the child's columns become the parent's: PostgREST's spread of a to-one embed
            plan.joins.append(
                sql.SQL(" {} join lateral ({}) as {} on true").format(
                    sql.SQL(join), inner, sql.Identifier(lateral)
                )
            )
            plan.columns.append(sql.SQL("{}.*").format(sql.Identifier(lateral)))
            plan.laterals[name] = (lateral, True)
            continue
        if rel.to_one:
            # the child's columns ride along, so the parent may order by them
            body = sql.SQL("select row_to_json(_)::json as pgrst_body, _.* from ({}) as _").format(
                inner
            )
        else:
            body = sql.SQL(
                "select coalesce(json_agg(_), '[]') as pgrst_body from ({}) as _"
            ).format(inner)
        plan.joins.append(
            sql.SQL(" {} join lateral ({}) as {} on true").format(
                sql.SQL(join), body, sql.Identifier(lateral)
            )
        )
        if item.inner and not rel.to_one:
            plan.conditions.append(
                sql.SQL("json_array_length({}.pgrst_body) > 0").format(sql.Identifier(lateral))
            )
        plan.columns.append(
            sql.SQL("{}.pgrst_body as {}").format(sql.Identifier(lateral), sql.Identifier(name))
        )
        laterals[name] = (lateral, rel.to_one)
    spreads = {item.target for item in items if isinstance(item, Embed) and item.spread}
    for condition in on_embeds:
        if condition.field.name in spreads:
            raise not_implemented("filtering on a spread resource")
        lateral, to_one = laterals[condition.field.name]
        found = condition.value == "not_null"
        if condition.negated:
            found = not found
        lateral_name = sql.Identifier(lateral)
        if to_one:
            test = "{}.pgrst_body is not null" if found else "{}.pgrst_body is null"
        else:
            test = (
                "json_array_length({}.pgrst_body) > 0"
                if found
                else "json_array_length({}.pgrst_body) = 0"
            )
        plan.conditions.append(sql.SQL(test).format(lateral_name))
    return plan


def _select_sql(
    plan: Plan,
    from_item: sql.Composable,
    extra_conditions: Sequence[sql.Composable],
    order: sql.Composable,
    page: sql.Composable,
) -> sql.Composable:
    conditions = [*extra_conditions, *plan.conditions]
    where = sql.SQL(" where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    columns = sql.SQL(", ").join(plan.columns) if plan.columns else sql.SQL("")
    return sql.SQL("select {} from {}{}{}{}{}").format(
        columns, from_item, sql.SQL("").join(plan.joins), where, order, page
    )


def check_embedded_filters(query: Query) -> None:
    """Filters on a path no embed in `select` names: PostgREST's PGRST108."""
    names: set[tuple[str, ...]] = {()}

    def walk(items: Sequence[Column | Embed], path: tuple[str, ...]) -> None:
        for item in items:
            if isinstance(item, Embed):
                child = (*path, item.alias or item.target)
                names.add(child)
                walk(item.children, child)

    walk(query.select, ())
    for path in query.levels:
        if path not in names:
            resource = path[-1]
            raise _not_embedded(resource)


def _not_embedded(resource: str) -> RestError:
    return RestError(
        400,
        "PGRST108",
        f"'{resource}' is not an embedded resource in this request",
        hint=f"Verify that '{resource}' is included in the 'select' query parameter.",
    )


@dataclass(frozen=True)
class Shape:
    """How the rows come back: counted (Prefer: count), stripped of nulls."""

    count: bool = False
    strip_nulls: bool = False


def read_sql(
    query: Query,
    source: Source,
    keys: Sequence[schema_cache.ForeignKey],
    shape: Shape,
    *,
    limit: int | None,
    offset: int,
    extra: sql.Composable | None = None,
) -> sql.Composed:
    """One row: the JSON array (text), the first element (text or null), the page's row
    count, the total (null unless counted), and `extra`'s value (null without it)."""
    check_embedded_filters(query)
    alias = source.alias
    builder = _Builder(query, keys)
    root = query.levels.get((), Level())
    plan = _plan(builder, query.select, alias, source, (), root)
    from_item = sql.SQL("{} as {}").format(source.from_sql, sql.Identifier(alias))
    order = _order_sql(alias, root.order, plan, source.table)
    page = _select_sql(plan, from_item, [], order, page_sql(limit, offset))
    total: sql.Composable = sql.SQL("null::bigint")
    if shape.count:
        counted = Plan([sql.SQL("1")], plan.joins, plan.conditions)
        total = sql.SQL("(select count(*) from ({}) as _)").format(
            _select_sql(counted, from_item, [], sql.SQL(""), sql.SQL(""))
        )
    agg: sql.Composable = sql.SQL("coalesce(json_agg(_), '[]')")
    if shape.strip_nulls:
        agg = sql.SQL("json_strip_nulls({})").format(agg)
    return sql.SQL(
        "select {agg}::text, ({agg} -> 0)::text, count(*), {total}, {extra} from ({page}) as _"
    ).format(agg=agg, total=total, page=page, extra=extra or sql.SQL("null"))
