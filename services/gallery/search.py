"""Name search through the database's own index: the condition "a folded column contains a folded text".

SQLite: an FTS5 table per searched table (trigram tokenizer), kept in step by triggers; PostgreSQL: pg_trgm GIN
indexes, which LIKE '%…%' uses, and GIN indexes of 1–2 character pieces for shorter texts. init_indexes() makes
them (services/database.py init_db), and the natural-order index a common text's page is read along; contains()
is the condition, exactly "contains" on every path (index, short text, fallback scan), and matching() also counts
the rows it holds, up to COUNTED_MAX. Never imports Flask.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from typing import Any

from peewee import SQL, Expression, Field, Model, NodeList, Value, fn

from models import Folder, Media, database
from services.database import is_postgres, write_transaction
from services.gallery import query

log = logging.getLogger("photonix.gallery")
# The searched columns of each table. Their FTS5 twins hold the text followed by PAD, so that every occurrence
# of a one- or two-character text starts a trigram (one at the very end, or a whole name of 1–2 characters,
# would start none): a short text is then found from the index's own list of trigrams (see _short). The SQL
# below names tables and columns from these models only; texts are always parameters.
SEARCHED: dict[type[Model], tuple[str, ...]] = {Media: ("name_folded", "folder_folded"), Folder: ("name_folded",)}
PAD = "\x01\x01"  # a text that contains it is searched by the plain scan (it could match the padding)
PAD_SQL = "char(1, 1)"
TRIGRAM_CHARS = 3
# A 1–2 character text that starts more trigram instances than this share of the table's rows is searched by
# the scan: reading that many instances (and removing duplicates) costs more than reading every row (1M rows
# here: the scan ~330 ms; "e", 300,000 matching rows, ~280 ms through the instances).
SHORT_INDEX_MAX_SHARE = 0.25
SHORT_INDEX_MIN_INSTANCES = 1000
DECISION_KEPT_S = 600
# PostgreSQL: a text's substrings of 1 and 2 characters, under a GIN index per searched column (pg_trgm finds no
# trigram in a 1–2 character LIKE pattern, and would read every row).
SHORT_GRAMS = "photonix_short_grams"
# A text at least this many rows contain is common: its rows are counted no further (the total becomes a lower
# bound), and its condition is checked row by row while a query reads along another index (the natural order's
# below: a first page stops after a few hundred rows) instead of materialising the index's answer (1M rows: ~1 s).
COUNTED_MAX = 10_000
RARE_EXPECTED_SHARE = 2  # × COUNTED_MAX: PostgreSQL's estimates of 1–2 character texts ran 2× over (5,556 → 10,859)
ORDER_INDEX = "media_search_order"  # Media in natural order across folders (browse's indexes start with the folder)
_SHORT_GRAMS_SQL = (  # each character, then each pair (GIN drops repeated elements itself)
    "CREATE FUNCTION photonix_short_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
    "SELECT string_to_array(t, NULL) || array(SELECT substr(t, i, 2) FROM generate_series(1, char_length(t) - 1) i) $$")
_said: set[str] = set()


def contains(text: str, *columns: Field):
    """Any of `columns` (folded columns of one table, e.g. Media.name_folded) contains `text` (folded alike).
    Columns without a search index (not in SEARCHED) are scanned."""
    if not text:
        return SQL("1 = 1")
    if is_postgres():
        return _postgres_contains(text, columns)
    model = columns[0].model
    table = fts_table(model)
    names = [column.column_name for column in columns]
    indexed = set(names) <= set(SEARCHED.get(model, ()))
    if PAD[0] in text or not indexed or not trigram_supported() or not _exists(table):
        return _scan(text, columns)
    if len(text) >= TRIGRAM_CHARS:
        match = "{" + " ".join(names) + "}: " + '"' + text.replace('"', '""') + '"'
        return _ids_in(model, f'SELECT rowid FROM "{table}" WHERE "{table}" MATCH ?', [match])  # noqa: S608
    return _short(text, columns, model, names)


def matching(text: str, *columns: Field) -> tuple[Any, int | None]:
    """(condition, found): contains(text, *columns), and how many rows of their table hold it, counted through the
    index up to COUNTED_MAX (min(rows, COUNTED_MAX)). For a common text (found == COUNTED_MAX) the condition is
    the plain comparison: the same rows, without first materialising the index's answer. found is None when
    PostgreSQL's planner expects under RARE_EXPECTED_SHARE × COUNTED_MAX rows: counting them would visit each row
    once more than the page's query, which reads them all anyway (and can count them as it does: search_pages)."""
    model = columns[0].model
    if is_postgres() and _planned_rows(model, contains(text, *columns)) < RARE_EXPECTED_SHARE * COUNTED_MAX:
        return contains(text, *columns), None
    found = counted(_count_source(text, columns, model))
    return (_scan(text, columns) if found >= COUNTED_MAX else contains(text, *columns)), found


def init_indexes() -> None:
    """Create the search indexes when missing (an existing database's rows are indexed then); safe to repeat."""
    natural = 'sort_key COLLATE "C"' if is_postgres() else "sort_key"  # as browse.natural compares it
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{ORDER_INDEX}" ON "media" ({natural})')
    if is_postgres():
        _init_postgres()
    elif not trigram_supported():
        _say_once("SQLite here has no FTS5 trigram tokenizer: name search scans every row (slow on big libraries)")
    else:
        for model, names in SEARCHED.items():
            _init_fts(model, names)


@functools.cache
def trigram_supported() -> bool:
    """Whether this process's SQLite library has FTS5 with the trigram tokenizer (3.34 and later, when built in)."""
    try:
        with sqlite3.connect(":memory:") as probe:
            probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='trigram case_sensitive 1')")
        return True
    except sqlite3.Error:
        return False


def fts_table(model: type[Model]) -> str:
    return f"{model._meta.table_name}_search"


def _short(text: str, columns: tuple[Field, ...], model: type[Model], names: list[str]):
    """1–2 characters: the rows with a trigram that starts with `text` (the padding makes that every row
    containing it), read from the index's list of instances, unless so many that the scan is cheaper."""
    after = _next_text(text)
    if after is None:
        return _scan(text, columns)
    vocab = fts_table(model) + "_instances"
    columns_sql = ", ".join("?" * len(names))
    where = f'FROM "{vocab}" WHERE term >= ? AND term < ? AND col IN ({columns_sql})'
    params = [text, after, *names]
    if _too_common(id(database.obj), int(time.monotonic() // DECISION_KEPT_S), model, where, tuple(params)):
        return _scan(text, columns)
    return _ids_in(model, f"SELECT doc {where}", params)


@functools.lru_cache(maxsize=4096)
def _too_common(_database: int, _period: int, model: type[Model], where: str, params: tuple) -> bool:
    """Whether the instances `where` selects are more than SHORT_INDEX_MAX_SHARE of the table's rows. Remembered
    per database and text for DECISION_KEPT_S (paging through results asks again; the library grows): the answer
    changes only how fast, never what."""
    table, key = model._meta.table_name, model._meta.primary_key.column_name
    rows = database.execute_sql(f'SELECT max("{key}") FROM "{table}"').fetchone()[0] or 0  # noqa: S608 (>= rows)
    limit = max(SHORT_INDEX_MIN_INSTANCES, int(rows * SHORT_INDEX_MAX_SHARE))
    found = database.execute_sql(f"SELECT count(*) FROM (SELECT 1 {where} LIMIT ?)", [*params, limit + 1])  # noqa: S608
    return found.fetchone()[0] > limit


def _count_source(text: str, columns: tuple[Field, ...], model: type[Model]) -> tuple[str, list]:
    """A SELECT whose rows are the rows containing `text`, each once, read straight from the index when there is one
    (SQLite: the FTS5 table or its instances; an IN over them would read every match first), for counted."""
    names = [column.column_name for column in columns]
    table = fts_table(model)
    indexed = set(names) <= set(SEARCHED.get(model, ()))
    sqlite_index = not is_postgres() and indexed and trigram_supported() and _exists(table)
    if sqlite_index and PAD[0] not in text and len(text) >= TRIGRAM_CHARS:
        match = "{" + " ".join(names) + "}: " + '"' + text.replace('"', '""') + '"'
        return f'SELECT rowid FROM "{table}" WHERE "{table}" MATCH ?', [match]  # noqa: S608
    after = _next_text(text)
    if sqlite_index and PAD[0] not in text and after is not None:
        return (f'SELECT DISTINCT doc FROM "{table}_instances" WHERE term >= ? AND term < ? '  # noqa: S608
                f'AND col IN ({", ".join("?" * len(names))})', [text, after, *names])
    condition = _scan(text, columns) if is_postgres() and _dense(model, text, columns) else contains(text, *columns)
    return model.select(SQL("1")).where(condition).sql()


def counted(source: tuple[str, list]) -> int:
    """min(rows of the SELECT `source` (its SQL and parameters), COUNTED_MAX): it stops reading there."""
    select, params = source
    return database.execute_sql(f"SELECT count(*) FROM ({select} LIMIT {COUNTED_MAX}) AS found", params).fetchone()[0]  # noqa: S608


def _dense(model: type[Model], text: str, columns: tuple[Field, ...]) -> bool:
    """PostgreSQL, 1–2 characters: whether the planner expects more than SHORT_INDEX_MAX_SHARE of the rows to hold
    `text`. Counting those through the SHORT_GRAMS index reads them all (~120 ms at 1M rows, its function run on
    each); the plain comparison stops after COUNTED_MAX (~4 ms). Longer texts: the planner chooses by itself."""
    if len(text) >= TRIGRAM_CHARS:
        return False
    rows = database.execute_sql("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                                (model._meta.table_name,)).fetchone()[0]
    return _planned_rows(model, contains(text, *columns)) > SHORT_INDEX_MAX_SHARE * max(rows, 0)


def _planned_rows(model: type[Model], condition) -> float:
    """PostgreSQL: how many rows of `model` its planner expects `condition` to hold (EXPLAIN: no row is read)."""
    sql, params = model.select(SQL("1")).where(condition).sql()
    return database.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]["Plan Rows"]


def _postgres_contains(text: str, columns: tuple[Field, ...]):
    """LIKE '%text%', which a pg_trgm index serves when the text has 3 characters or more; a shorter one is an
    element of the column's SHORT_GRAMS (when init_db made them: else LIKE, reading every row). Exact either way."""
    if len(text) < TRIGRAM_CHARS and _short_grams_made(id(database.obj)):
        return _any(Expression(getattr(fn, SHORT_GRAMS)(column), "@>", Value([text], unpack=False))
                    for column in columns)
    return _any(Expression(column, "LIKE", "%" + _like_escaped(text) + "%") for column in columns)


@functools.lru_cache(maxsize=64)
def _short_grams_made(_database: int) -> bool:
    return database.execute_sql("SELECT 1 FROM pg_proc WHERE proname = %s", (SHORT_GRAMS,)).fetchone() is not None


def _next_text(text: str) -> str | None:
    """The smallest text after every text that starts with `text` (UTF-8 byte order is code point order);
    None when there is none."""
    last = ord(text[-1]) + 1
    if last == 0xD800:  # surrogates are never in text
        last = 0xE000
    return None if last > 0x10FFFF else text[:-1] + chr(last)


def _ids_in(model: type[Model], select: str, params: list):
    return model._meta.primary_key.in_(NodeList([SQL(select, params)], parens=True))


def _scan(text: str, columns: tuple[Field, ...]):
    return _any(query.contains(column, text) for column in columns)


def _any(conditions):
    conditions = list(conditions)
    result = conditions[0]
    for condition in conditions[1:]:
        result = result | condition
    return result


def _like_escaped(text: str) -> str:
    """`text` as a LIKE pattern matching just itself (PostgreSQL's default escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _exists(table: str) -> bool:
    return database.execute_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (table,)).fetchone() is not None


def _init_fts(model: type[Model], names: tuple[str, ...]) -> None:
    """The FTS5 table of `model` (contentless: it holds only the index), its triggers and its first filling, in
    one write transaction: another process running init_db at once waits, then finds it made."""
    table, fts = model._meta.table_name, fts_table(model)
    key = model._meta.primary_key.column_name
    columns = ", ".join(f'"{name}"' for name in names)
    padded = lambda row: ", ".join(f'{row}."{name}" || {PAD_SQL}' for name in names)  # noqa: E731
    delete = f"INSERT INTO \"{fts}\" (\"{fts}\", rowid, {columns}) VALUES ('delete', old.\"{key}\", {padded('old')});"  # noqa: S608
    insert = f'INSERT INTO "{fts}" (rowid, {columns}) VALUES (new."{key}", {padded("new")});'  # noqa: S608
    with write_transaction():
        if _exists(fts):
            return
        database.execute_sql(f"CREATE VIRTUAL TABLE \"{fts}\" USING fts5({columns}, content='', "
                             f"tokenize='trigram case_sensitive 1')")
        database.execute_sql(f"CREATE VIRTUAL TABLE \"{fts}_instances\" USING fts5vocab(\"{fts}\", 'instance')")
        database.execute_sql(f'CREATE TRIGGER "{fts}_insert" AFTER INSERT ON "{table}" BEGIN {insert} END')
        database.execute_sql(f'CREATE TRIGGER "{fts}_delete" AFTER DELETE ON "{table}" BEGIN {delete} END')
        database.execute_sql(f'CREATE TRIGGER "{fts}_update" AFTER UPDATE OF "{key}", {columns} ON "{table}" '
                             f"BEGIN {delete} {insert} END")
        row = padded(f'"{table}"')
        database.execute_sql(f'INSERT INTO "{fts}" (rowid, {columns}) SELECT "{key}", {row} FROM "{table}"')  # noqa: S608
    log.info("search index %s made (%s rows indexed)", fts, model.select().count())


def _init_postgres() -> None:
    """A GIN index of SHORT_GRAMS on each searched column; pg_trgm (a trusted extension since PostgreSQL 13: the
    database's owner may create it) and a GIN index of trigrams on each; without it, search scans (says so once)."""
    _init_short_grams()
    try:
        with database.atomic():
            database.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 (not allowed, not installed, or made meanwhile by another process)
        if database.execute_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone() is None:
            _say_once(f"PostgreSQL extension pg_trgm unavailable ({str(exc).strip()}): name search scans every row")
            return
    for model, names in SEARCHED.items():
        table = model._meta.table_name
        for name in names:
            database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_{name}_trgm" ON "{table}" '
                                 f'USING gin ("{name}" gin_trgm_ops)')


def _init_short_grams() -> None:
    with database.atomic():
        if database.execute_sql("SELECT 1 FROM pg_proc WHERE proname = %s", (SHORT_GRAMS,)).fetchone() is None:
            database.execute_sql(_SHORT_GRAMS_SQL)
    for model, names in SEARCHED.items():
        table = model._meta.table_name
        for name in names:
            database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_{name}_grams" ON "{table}" '
                                 f'USING gin ({SHORT_GRAMS}("{name}"))')


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning(message)
