"""A listing's two reads: its rows as named tuples straight from the driver, and how many rows it has, remembered
for as long as the database proves nothing changed (an album of 50,000 photos is counted once, not on every page).
SQLite: per connection, while data_version, the connection's own total_changes and the schema stay the same.
PostgreSQL: per process, with the snapshot the count was made in; a statement trigger on the media and folder
tables records each transaction that changes them (listing_change), and a count is reused while no transaction
recorded there is one its snapshot did not see. Counted queries read only those two tables (the view table joins
them LEFT on its whole primary key, so it never changes a count). No Flask here; callers hold the transaction that
makes rows and counts one snapshot.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import SQL, fn

from models import database
from services.database import is_postgres

MAX_COUNTS_REMEMBERED = 256  # per connection; past it the connection's counts are forgotten and made again
# Changes SQLite reports: commits by any other connection (data_version), this connection's own inserts, updates
# and deletes, committed or not (total_changes counts them as they happen), and any change of the schema.
_STAMP_SQL = "SELECT * FROM pragma_data_version(), pragma_schema_version()"


@dataclass
class _Counts:
    stamp: tuple
    by_query: dict[tuple, int] = field(default_factory=dict)


# Keyed by the connection itself, so a closed connection's counts go with it (a new connection starts its
# data_version and total_changes afresh: counts kept by an id could be taken for its own).
_remembered: weakref.WeakKeyDictionary[Any, _Counts] = weakref.WeakKeyDictionary()


def rows(query: Any) -> list[Any]:
    """The rows of `query` as named tuples with the fields peewee's .namedtuples() gives them, and values as the
    driver returns them: for columns of text and numbers that is what peewee's converters would return, which
    cost ~1.3 ms a page of 200 (an expression is not converted: COALESCE a float column with a float)."""
    cursor = database.execute(query)
    make = _row_type(tuple(_column_name(column[0]) for column in cursor.description))._make
    return [make(row) for row in cursor]


def count(query: Any) -> int:
    """How many rows `query` (a peewee SELECT without GROUP BY, DISTINCT or LIMIT) has in the caller's snapshot:
    SELECT COUNT(*) of it without its ORDER BY. On SQLite a count this connection made is reused while nothing
    was written to the database since; on PostgreSQL one this process made is reused while no change committed
    since its snapshot, unless this transaction has written (its own changes are not committed yet).
    Counts made outside any transaction or in a snapshot() of its own are remembered; inside a caller's
    transaction they are not (SQLite cannot tell whether it has written, and a rollback leaves total_changes as
    it was)."""
    counting = query.order_by().select(fn.COUNT(SQL("*")))
    if is_postgres():
        return _count_postgres(counting)
    connection = database.connection()
    try:
        kept = _remembered.get(connection)
    except TypeError:  # a connection class without weak references: nothing is kept for it
        return counting.scalar()
    stamp = (*database.execute_sql(_STAMP_SQL).fetchone(), connection.total_changes)
    if kept is None or kept.stamp != stamp or len(kept.by_query) >= MAX_COUNTS_REMEMBERED:
        kept = _remembered[connection] = _Counts(stamp)
    sql, params = counting.sql()
    key = (sql, repr(params))  # a parameter may be a list (PostgreSQL arrays)
    if key in kept.by_query:
        return kept.by_query[key]
    total = database.execute_sql(sql, params).fetchone()[0]
    if _may_remember():
        kept.by_query[key] = total
    return total


@contextlib.contextmanager
def snapshot() -> Iterator[None]:
    """A listing's transaction: its counts and rows read in one snapshot. Opened inside a caller's transaction
    it is a savepoint of it, and counts made there are not remembered (see count())."""
    own = database.transaction_depth() == 0
    with database.atomic():
        token = _in_own_snapshot.set(own)
        try:
            yield
        finally:
            _in_own_snapshot.reset(token)


def _may_remember() -> bool:
    return database.transaction_depth() == 0 or _in_own_snapshot.get()


_in_own_snapshot: contextvars.ContextVar[bool] = contextvars.ContextVar("listing_own_snapshot", default=False)


def _count_postgres(counting: Any) -> int:
    sql, params = counting.sql()
    key = (sql, repr(params))  # a parameter may be a list (PostgreSQL arrays)
    counted = _counted_postgres.setdefault(database.obj, {})
    kept = counted.get(key)
    if kept is not None and database.execute_sql(_UNCHANGED_SQL, (kept[1],) * 3).fetchone()[0]:
        return kept[0]
    total, snapshot, clean = database.execute_sql(f"SELECT ({sql}), pg_current_snapshot()::text, "
                                                  "pg_current_xact_id_if_assigned() IS NULL", params).fetchone()
    if clean:  # a transaction that has written may yet roll back: its count is its own
        if len(counted) >= MAX_COUNTS_REMEMBERED:
            counted.clear()
        counted[key] = (total, snapshot)
    return total


# PostgreSQL: a count with the snapshot it was made in, per process and database (any of its connections may check
# it; a database bound later, as tests do, starts afresh).
_counted_postgres: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], tuple[int, str]]] = weakref.WeakKeyDictionary()
# True when a count made in snapshot %s may be reused now: this transaction has not written; no recorded change was
# pruned that the snapshot may not have seen (every transaction below its xmin had ended); and every transaction
# recorded from its xmin on was visible to it (committed before it). A transaction running while the count was
# made, or begun since, that has committed by now is recorded and was not visible to the snapshot.
_UNCHANGED_SQL = """SELECT pg_current_xact_id_if_assigned() IS NULL
    AND (SELECT floor FROM listing_change_floor) <= pg_snapshot_xmin(%s::pg_snapshot)
    AND NOT EXISTS (SELECT 1 FROM listing_change WHERE xid >= pg_snapshot_xmin(%s::pg_snapshot)
                                                   AND NOT pg_visible_in_snapshot(xid, %s::pg_snapshot))"""

_CHANGE_LOG_SQL = (
    "CREATE TABLE IF NOT EXISTS listing_change (xid xid8 PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS listing_change_floor (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), "
    "floor xid8 NOT NULL)",
    "INSERT INTO listing_change_floor (floor) VALUES ('0') ON CONFLICT DO NOTHING",
    """CREATE OR REPLACE FUNCTION photonix_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO listing_change VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
)
CHANGED_TABLES = ("media", "folder")


def init_change_log() -> None:
    """PostgreSQL: the table of changing transactions and the statement triggers that fill it (services/database.py
    init_db; safe to run again, also by several processes at once: they take turns, and find it made)."""
    if not is_postgres() or _triggers() == set(CHANGED_TABLES):
        return
    with database.atomic():
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtext('photonix listing_change'))")
        for statement in _CHANGE_LOG_SQL:
            database.execute_sql(statement)
        for table in set(CHANGED_TABLES) - _triggers():
            database.execute_sql(f'CREATE TRIGGER "{table}_listing_changed" AFTER INSERT OR UPDATE OR DELETE OR '
                                 f'TRUNCATE ON "{table}" FOR EACH STATEMENT '
                                 'EXECUTE FUNCTION photonix_listing_changed()')


def _triggers() -> set[str]:
    """The changed tables whose trigger is there."""
    return {row[0] for row in database.execute_sql(
        "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = tgrelid::regclass::text || '_listing_changed'")}


def prune_changes() -> None:
    """Forget the recorded changes every snapshot taken from now on sees (PostgreSQL; the index does it after each
    scan and now and then): the floor moves up to the oldest running transaction, so a count remembered from an
    older snapshot is made again."""
    if not is_postgres():
        return
    with database.atomic():
        database.execute_sql("""WITH moved AS (UPDATE listing_change_floor
                                               SET floor = greatest(floor, pg_snapshot_xmin(pg_current_snapshot()))
                                               RETURNING floor)
                                DELETE FROM listing_change WHERE xid < (SELECT floor FROM moved)""")


@functools.lru_cache(maxsize=64)
def _row_type(fields: tuple[str, ...]) -> Any:
    return collections.namedtuple("Row", fields, rename=True)


def _column_name(described: str) -> str:
    """A result column's name as peewee names it: `"t1"."name"` → name (SQLite and PostgreSQL give the bare
    column name or the alias already)."""
    return described[described.rfind(".") + 1:].strip('()"`')
