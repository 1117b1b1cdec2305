"""What PostgREST's schema cache knows, read per request from pg_catalog: relations and
the foreign keys between them (for embedding), resolved as PostgREST resolves a target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from standins.supabase.errors import RestError

SCHEMA = "public"

RELATION_SQL = """
select 1
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'v', 'm', 'f', 'p')
"""

# Foreign keys between two relations of the exposed schema, with their columns in key
# order and whether the referencing columns are unique (a one-to-one relationship).
FOREIGN_KEYS_SQL = """
select
  k.conname,
  src.relname,
  array(
    select a.attname from unnest(k.conkey) with ordinality as u (n, o)
    join pg_catalog.pg_attribute as a on a.attrelid = k.conrelid and a.attnum = u.n
    order by u.o
  ),
  tgt.relname,
  array(
    select a.attname from unnest(k.confkey) with ordinality as u (n, o)
    join pg_catalog.pg_attribute as a on a.attrelid = k.confrelid and a.attnum = u.n
    order by u.o
  ),
  exists (
    select 1 from pg_catalog.pg_index as i
    where i.indrelid = k.conrelid and i.indisunique and i.indpred is null
      and i.indkey::int2[] @> k.conkey and k.conkey @> i.indkey::int2[]
  )
from pg_catalog.pg_constraint as k
join pg_catalog.pg_class as src on src.oid = k.conrelid
join pg_catalog.pg_namespace as sn on sn.oid = src.relnamespace
join pg_catalog.pg_class as tgt on tgt.oid = k.confrelid
join pg_catalog.pg_namespace as tn on tn.oid = tgt.relnamespace
where k.contype = 'f' and sn.nspname = %s and tn.nspname = %s
"""


PRIMARY_KEY_SQL = """
select a.attname
from pg_catalog.pg_index as i
join pg_catalog.pg_class as c on c.oid = i.indrelid
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum = any(i.indkey)
where n.nspname = %s and c.relname = %s and i.indisprimary
"""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    foreign_table: str
    foreign_columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class Relationship:
    """How `parent` reaches `child`: pairs of (parent column, child column)."""

    child: str
    on: tuple[tuple[str, str], ...]
    to_one: bool
    constraint: str
    cardinality: str  # PostgREST's word: many-to-one, one-to-many, one-to-one


async def relation_exists(conn: AsyncConnection[Any], name: str) -> bool:
    cursor = await conn.execute(RELATION_SQL, (SCHEMA, name))
    return await cursor.fetchone() is not None


async def foreign_keys(conn: AsyncConnection[Any]) -> list[ForeignKey]:
    cursor = await conn.execute(FOREIGN_KEYS_SQL, (SCHEMA, SCHEMA))
    return [
        ForeignKey(name, table, tuple(cols), ftable, tuple(fcols), unique)
        for name, table, cols, ftable, fcols, unique in await cursor.fetchall()
    ]


async def primary_key(conn: AsyncConnection[Any], name: str) -> tuple[str, ...]:
    cursor = await conn.execute(PRIMARY_KEY_SQL, (SCHEMA, name))
    return tuple(sorted(row[0] for row in await cursor.fetchall()))


def table_not_found(name: str) -> RestError:
    return RestError(
        404, "PGRST205", f"Could not find the table '{SCHEMA}.{name}' in the schema cache"
    )


def _candidates(parent: str, target: str, keys: Sequence[ForeignKey]) -> list[Relationship]:
    found: list[Relationship] = []
    for key in keys:
        if key.table == parent and (key.foreign_table == target or key.columns == (target,)):
            pairs = tuple(zip(key.columns, key.foreign_columns, strict=True))
            found.append(Relationship(key.foreign_table, pairs, True, key.name, "many-to-one"))
        if key.foreign_table == parent and key.table == target:
            pairs = tuple(zip(key.foreign_columns, key.columns, strict=True))
            word = "one-to-one" if key.unique else "one-to-many"
            found.append(Relationship(key.table, pairs, key.unique, key.name, word))
    return found


def resolve(parent: str, target: str, hint: str | None, keys: Sequence[ForeignKey]) -> Relationship:
    """The one relationship `parent → target` names, or PostgREST's PGRST200 / PGRST201."""
    found = _candidates(parent, target, keys)
    if hint is not None:
        found = [
            rel for rel in found if hint == rel.constraint or any(hint in pair for pair in rel.on)
        ]
    if len(found) == 1:
        return found[0]
    if not found:
        using = f"' using the hint '{hint}" if hint else ""
        raise RestError(
            400,
            "PGRST200",
            f"Could not find a relationship between '{parent}' and '{target}' in the schema cache",
            details=f"Searched for a foreign key relationship between '{parent}' and "
            f"'{target}{using}' in the schema '{SCHEMA}', but no matches were found.",
        )
    options = ", ".join(f"'{target}!{rel.constraint}'" for rel in found)
    error = RestError(
        300,
        "PGRST201",
        "Could not embed because more than one relationship was found for "
        f"'{parent}' and '{target}'",
        hint=f"Try changing '{target}' to one of the following: {options}. "
        "Find the desired relationship in the 'details' key.",
    )
    error.body["details"] = [
        {
            "cardinality": rel.cardinality,
            "embedding": f"{parent} with {rel.child}",
            "relationship": f"{rel.constraint} using {parent}({', '.join(p for p, _ in rel.on)})"
            f" and {rel.child}({', '.join(c for _, c in rel.on)})",
        }
        for rel in found
    ]
    raise error
