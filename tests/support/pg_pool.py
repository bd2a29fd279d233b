"""Test databases on the throwaway PostgreSQL, reused. A copy of the migrated template (CREATE DATABASE … TEMPLATE)
costs 70–130 ms and 7.7 MB here, ~1,000 times per xdist worker: minutes of the suite and gigabytes removed at its
end. A test's database is instead put back as the template left it when the test ends, then renamed, and the next
test takes it under a new name (so nothing in the process keyed by the old database carries over): its written
tables emptied (TRUNCATE: empty files, and its planner statistics deleted, as in a fresh copy), the template's few
rows written back, its sequences set back; checked first to have the template's schema exactly (a test that
changed a table, an index, a trigger or a function gets its database dropped)."""

from __future__ import annotations

import time
import uuid

import psycopg2

from tests.support.servers import create_pg_database

# Everything a test could change in the schema, as one text per object.
_SCHEMA_SQL = """SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM (
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '
           || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc)
              FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'relation ' || c.relkind::text || ' ' || c.oid::regclass::text
              FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
    UNION ALL SELECT 'extension ' || extname FROM pg_extension
    UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typnamespace = 'public'::regnamespace) AS objects(x)"""
_TABLES_SQL = "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
_SEQUENCES_SQL = ("SELECT quote_ident(sequencename), last_value, last_value IS NOT NULL FROM pg_sequences "
                  "WHERE schemaname = 'public'")
_WRITTEN_SQL = ("SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind = 'r' AND pg_relation_size(oid) > 0")
_FORGET_STATISTICS_SQL = ("DELETE FROM pg_statistic WHERE starelid IN "
                          "(SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)")
SESSIONS_END_S = 10.0  # a failsafe; then the rename or drop fails and names the session left
MAX_GROWTH = 4  # a database this many times the template's size (bloated by a big test) is dropped, not reused


class PgPool:
    def __init__(self, admin_url: str, template: str):
        self.admin_url, self.template = admin_url, template
        self.free: list[str] = []
        with _connect(f"{admin_url}/{template}") as conn, conn.cursor() as cur:
            cur.execute(_SCHEMA_SQL)
            self.schema = cur.fetchone()[0]
            cur.execute(_TABLES_SQL)
            self.tables = [name for (name,) in cur.fetchall()]
            self.rows = {}
            for table in self.tables:
                cur.execute(f"SELECT * FROM {table}")  # noqa: S608 (names from the catalog)
                if rows := cur.fetchall():
                    self.rows[table] = ([column.name for column in cur.description], rows)
            cur.execute(_SEQUENCES_SQL)
            self.sequences = cur.fetchall()
            cur.execute("SELECT pg_database_size(current_database())")
            self.size = cur.fetchone()[0]
        conn.close()

    def take(self) -> str:
        """The URL of a database holding what the template holds, under a name never used before."""
        name = "t_" + uuid.uuid4().hex[:12]
        if self.free:
            self._admin(f'ALTER DATABASE "{self.free.pop()}" RENAME TO "{name}"')
            return f"{self.admin_url}/{name}"
        return create_pg_database(self.admin_url, name, self.template)

    def give_back(self, url: str) -> None:
        """Set the database back as the template left it and keep it for a later test, or drop it."""
        name = url.rsplit("/", 1)[1]
        self._end_sessions(name)
        if self._reset(url):
            self._end_sessions(name)
            spare = "spare_" + uuid.uuid4().hex[:12]
            self._admin(f'ALTER DATABASE "{name}" RENAME TO "{spare}"')
            self.free.append(spare)
        else:
            self._admin(f'DROP DATABASE "{name}" WITH (FORCE)')

    def _end_sessions(self, name: str) -> None:
        """End the sessions the test left on the database (its pooled connections) and wait until they are gone:
        a rename needs none. pg_terminate_backend's own wait polls every 100 ms; this one every 2 ms."""
        conn = _connect(f"{self.admin_url}/postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                deadline = time.monotonic() + SESSIONS_END_S
                while True:
                    cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                                (name,))
                    if not cur.fetchone()[0] or time.monotonic() > deadline:
                        return
                    time.sleep(0.002)
        finally:
            conn.close()

    def _reset(self, url: str) -> bool:
        conn = _connect(url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SET lock_timeout = '5s'")  # a session still holding a lock: drop instead
                cur.execute(_SCHEMA_SQL)
                if cur.fetchone()[0] != self.schema:
                    return False
                cur.execute("SELECT pg_database_size(current_database())")
                if cur.fetchone()[0] > MAX_GROWTH * self.size:
                    return False
                # TRUNCATE, not DELETE: the planner then sees empty files and no statistics, as in a fresh copy
                # (after a DELETE it saw the pages and statistics of the last test's rows, and chose other plans).
                cur.execute(_WRITTEN_SQL)
                if written := [table for (table,) in cur.fetchall()]:
                    cur.execute(f"TRUNCATE {', '.join(written)}")
                cur.execute(_FORGET_STATISTICS_SQL)
                cur.execute("SET LOCAL session_replication_role = replica")  # the template's rows go back as they were
                for table, (columns, rows) in self.rows.items():
                    marks = ", ".join(["%s"] * len(columns))
                    cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
                for sequence, value, called in self.sequences:
                    cur.execute("SELECT setval(%s, %s, %s)", (sequence, value or 1, called))
            return True
        except psycopg2.Error:
            return False
        finally:
            conn.close()

    def _admin(self, sql: str) -> None:
        conn = _connect(f"{self.admin_url}/postgres")
        conn.autocommit = True  # ALTER / DROP DATABASE run outside a transaction
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


def _connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = False
    return conn
