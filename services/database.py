"""Opening the database named by a URL, binding it to the models, creating the schema.

SQLite gets WAL, foreign keys, a busy timeout that waits cooperatively (see CooperativeCursor) and
connections kept open between requests (ReusedSqliteDatabase); PostgreSQL gets a bounded connection pool
with a wait timeout (an unbounded wait raises MaxConnectionsExceeded under load).
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import peewee
from playhouse.db_url import parse
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase, PooledSqliteDatabase

from errors import DatabaseBusy
from models import ALL_MODELS, Event, Folder, Media, database
from services.gallery.keys import fold

FOLD_FUNCTION = "photonix_fold"  # SQLite only: services.gallery.keys.fold
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_IDLE_CONNECTIONS = 8  # kept open for the next request; more are closed when given back
PG_MAX_CONNECTIONS = 32
PG_POOL_WAIT_S = 10
PG_STALE_S = 300
BUSY_RETRY_FIRST_S = 0.001
BUSY_RETRY_MAX_S = 0.05
SQLITE_ANALYSIS_LIMIT = 1000  # rows ANALYZE samples per index (PRAGMA analysis_limit): seconds, not minutes, at 1M
# Plain "locked" clears when the other writer finishes; SQLITE_BUSY_SNAPSHOT (a stale read transaction
# trying to write) never does, so it fails at once, as it does with SQLite's own busy handler.
_RETRYABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_RECOVERY})
# Columns added to a table after it first shipped (model, column, SQL definition): init_db adds them to
# an older database; create_tables already makes them in a new one.
ADDED_COLUMNS = (
    (Event, "audience", "VARCHAR(16) NOT NULL DEFAULT 'admin'"),
    *((Media, column, definition) for column, definition in (
        ("taken_at", "TEXT"), ("taken_from", "VARCHAR(8)"), ("taken_key", "DOUBLE PRECISION"),
        ("camera_make", "TEXT"), ("camera_model", "TEXT"), ("lens", "TEXT"), ("focal_length", "DOUBLE PRECISION"),
        ("f_number", "DOUBLE PRECISION"), ("exposure_time", "DOUBLE PRECISION"), ("iso", "INTEGER"),
        ("gps_lat", "DOUBLE PRECISION"), ("gps_lon", "DOUBLE PRECISION"), ("gps_alt", "DOUBLE PRECISION"),
        ("duration", "DOUBLE PRECISION"), ("codec", "TEXT"), ("meta_version", "INTEGER NOT NULL DEFAULT 0"),
        ("placeholder", "TEXT"), ("thumb_failed", "INTEGER NOT NULL DEFAULT 0"), ("audio_codec", "TEXT"))),
    (Folder, "cover_placeholder", "TEXT"),
)
# Values an older database's rows get for an added column until the next scan reads them again (table, column,
# SQL expression): browse orders by taken_key, and NULLs would sort first on PostgreSQL but last on SQLite.
BACKFILLS = (("media", "taken_key", '"mtime"'),)
# Indexes on added columns (name, table, columns), made after the columns: an older table has none at first.
# The media_browse_ ones are browse's (services/gallery/browse.py _media_order): one per order of an album's
# media, so that any page is a range of one. {natural} is sort_key as browse compares it, then the id that ends
# each order: PostgreSQL needs both spelt out, SQLite ends every index with the rowid (the id) anyway.
ADDED_INDEXES = (("media_taken_key", "media", "taken_key"),
                 ("media_kind", "media", "kind"),  # GET /api/settings/status counts the videos through it
                 ("media_browse_name", "media", "folder_hash, {natural}"),
                 ("media_browse_mtime", "media", "folder_hash, mtime, {natural}"),
                 ("media_browse_mtime_desc", "media", "folder_hash, mtime DESC, {natural}"),
                 ("media_browse_taken", "media", "folder_hash, taken_key, {natural}"),
                 ("media_browse_taken_desc", "media", "folder_hash, taken_key DESC, {natural}"))
DROPPED_INDEXES = ("media_folder_hash_sort_key", "media_folder_hash_mtime", "media_folder_hash_taken_key")  # replaced


class CooperativeCursor(sqlite3.Cursor):
    """Waits for another connection's lock in Python, not in C.

    SQLite's own busy handler sleeps inside sqlite3_step, on the calling thread: in a gevent worker that
    is the hub, so one request waiting for a lock another process holds stalled every request of the
    worker for up to the busy timeout. Here SQLite answers "locked" at once (busy_timeout 0) and the
    statement is retried with time.sleep, which gevent makes a cooperative sleep, until the same timeout.
    """

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return _retry_busy(lambda: super(CooperativeCursor, self).execute(sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        rows = list(seq_of_parameters)  # an iterator would be used up by a first, failed attempt
        return _retry_busy(lambda: super(CooperativeCursor, self).executemany(sql, rows))


class CooperativeConnection(sqlite3.Connection):
    def cursor(self, factory: Any = CooperativeCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


class ReusedSqliteDatabase(PooledSqliteDatabase):
    """SQLite connections kept open between requests, at most SQLITE_IDLE_CONNECTIONS of them idle.

    Opening one per request cost a file open, four pragmas and a re-read of the schema on its first
    statement: about a millisecond of the gevent hub per request. No cap on connections in use (each
    request may hold one, as before). A transaction left open is rolled back on return (peewee), and a
    forked child never uses its parent's connections.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._pid = os.getpid()
        super().__init__(*args, max_connections=None, **kwargs)

    def _connect(self) -> Any:
        if self._pid != os.getpid():
            self._connections, self._in_use, self._pid = [], {}, os.getpid()
        return super()._connect()

    def _can_reuse(self, conn: Any) -> bool:
        return len(self._connections) < SQLITE_IDLE_CONNECTIONS and super()._can_reuse(conn)


def _retry_busy(attempt: Any) -> Any:
    give_up: float | None = None
    delay = BUSY_RETRY_FIRST_S
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _RETRYABLE_CODES:
                raise
            now = time.monotonic()
            give_up = give_up or now + SQLITE_BUSY_TIMEOUT_MS / 1000
            if now >= give_up:
                raise
            time.sleep(min(delay, give_up - now))
            delay = min(delay * 2, BUSY_RETRY_MAX_S)


def open_database(url: str) -> peewee.Database:
    """A peewee Database for `url` (sqlite:///path or postgresql://…); connects lazily."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url[len("sqlite://"):]
        db = ReusedSqliteDatabase(
            path,
            timeout=0,  # CooperativeCursor waits instead, off the hub
            factory=CooperativeConnection,
            check_same_thread=False,  # a pooled connection may serve another thread later (never two at once)
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 0,
                "synchronous": "normal",
            },
        )
        # SQLite's LOWER() lowers ASCII only: search compares camera and lens names folded as Python does.
        db.register_function(_fold_or_none, FOLD_FUNCTION, 1, deterministic=True)
        return db
    params = parse(url.replace("+pool", "", 1))
    name = params.pop("database")
    return PooledPostgresqlDatabase(
        name,
        max_connections=PG_MAX_CONNECTIONS,
        stale_timeout=PG_STALE_S,
        timeout=PG_POOL_WAIT_S,
        **params,
    )


def _fold_or_none(text: str | None) -> str | None:
    return None if text is None else fold(text)


def bind_database(db: peewee.Database) -> None:
    """Point every model at `db`; the connections kept by the database bound before are closed."""
    previous = database.obj
    if previous is not None and previous is not db and hasattr(previous, "close_all"):
        previous.close_all()
    database.initialize(db)


def init_db() -> None:
    """Create missing tables, indexes and added columns; safe to run any number of times, also concurrently."""
    with database.connection_context():
        database.create_tables(ALL_MODELS, safe=True)
        present: dict[str, set[str]] = {}  # a table's columns, read once (PostgreSQL's catalog reads are slow)
        for model, column, definition in ADDED_COLUMNS:
            table = model._meta.table_name
            if table not in present:
                present[table] = {c.name for c in database.get_columns(table)}
            if column not in present[table]:
                _add_column(table, column, definition)
        natural = 'sort_key COLLATE "C", id' if is_postgres() else "sort_key"
        for name, table, columns in ADDED_INDEXES:
            columns = columns.format(natural=natural)
            database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})')
        for name in DROPPED_INDEXES:
            database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        for table, column, value in BACKFILLS:  # an indexed IS NULL: nothing to do after the first time
            with database.atomic():
                database.execute_sql(f'UPDATE "{table}" SET "{column}" = {value} WHERE "{column}" IS NULL')  # noqa: S608
        from services.gallery import listing, search  # imported here: they build on this module

        search.init_indexes()  # name search's FTS5 tables or pg_trgm indexes
        listing.init_change_log()  # PostgreSQL: which transactions changed what listings count


def _add_column(table: str, column: str, definition: str) -> None:
    """Upgrade a database made before `column` existed. SQLite has no ADD COLUMN IF NOT EXISTS, so a
    failure is accepted when the column is there after all (another process added it meanwhile)."""
    try:
        with database.atomic():
            database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {definition}')
    except peewee.DatabaseError:
        if column not in {c.name for c in database.get_columns(table)}:
            raise


def insert_ignoring_conflicts(model: type[peewee.Model], fields: tuple, rows: list[tuple]) -> None:
    """model.insert_many(rows, fields).on_conflict_ignore().execute(), with the SQL built once per shape:
    peewee spends longer building a wide multi-row INSERT (a call per value) than the database takes to run it."""
    if rows:
        sql = _insert_sql(type(database.obj), model, fields, len(rows))
        database.execute_sql(sql, [value for row in rows for value in row])


@functools.cache
def _insert_sql(dialect: type, model: type[peewee.Model], fields: tuple, count: int) -> str:
    # One row's SQL from peewee in the bound database's dialect (OR IGNORE or ON CONFLICT, placeholders), with
    # its VALUES group repeated; `dialect` (the database's class) is part of the key only.
    sql, _ = model.insert_many([tuple(range(len(fields)))], fields=fields).on_conflict_ignore().sql()
    head, group, tail = re.fullmatch(r"(.* VALUES )(\([^)]*\))(.*)", sql, re.S).groups()
    return head + ", ".join([group] * count) + tail


def write_transaction():
    """A transaction that reads, then writes. On SQLite it takes the write lock at BEGIN (IMMEDIATE),
    so it waits for another writer within the busy timeout; a deferred one that read first fails at
    once with "database is locked" when another connection committed meanwhile."""
    if isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def analyze(tables: tuple[str, ...]) -> None:
    """Refresh the query planner's statistics of `tables` (after a bulk change: a first index, a big rescan), so
    that it keeps choosing the indexes; PostgreSQL's autovacuum would get there later, SQLite never by itself.
    SQLite samples (analysis_limit) rather than reading every row, so this stays short on a million rows."""
    if not is_postgres():
        database.execute_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
    for table in tables:
        database.execute_sql(f'ANALYZE "{table}"')


def run_built(build: Callable[[], Any], params: tuple | None = None) -> Any:
    """The cursor of the query `build()` makes, built by peewee once per database class and then run as plain SQL:
    building a small query costs peewee ~10× what SQLite takes to run it, and the hottest reads (every request's
    settings, every event stream's newest id) need not pay that each time. `params` replace the built query's own
    (its literals then only mark their places). `build` must always build the same query."""
    sql, own = _built(build, type(database.obj))
    return database.execute_sql(sql, own if params is None else params)


@functools.lru_cache(maxsize=64)
def _built(build: Callable[[], Any], backend: type) -> tuple[str, tuple]:
    sql, params = build().sql()
    return sql, tuple(params)


def ping() -> None:
    """Raise peewee.DatabaseError (or OperationalError) unless the database answers."""
    database.execute_sql("SELECT 1").fetchone()


def is_postgres() -> bool:
    return isinstance(database.obj, peewee.PostgresqlDatabase)


def close_connection() -> None:
    """Give back this greenlet's/thread's connection, if it has one."""
    if database.obj is not None and not database.is_closed():
        database.close()


def busy_error(exc: BaseException) -> DatabaseBusy | None:
    """A DatabaseBusy for a lock/pool timeout, so the client gets 503 instead of 500; else None."""
    if isinstance(exc, MaxConnectionsExceeded):
        return DatabaseBusy()
    if isinstance(exc, peewee.OperationalError) and any(
        word in str(exc).lower() for word in ("locked", "busy", "timeout")
    ):
        return DatabaseBusy()
    return None
