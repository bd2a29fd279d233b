"""Name search through the database's index (services/gallery/search.py): the same rows as a plain `in` on every path.

Each test runs on the database the run uses (SQLite, or PostgreSQL with --db=postgres), and each result is compared
with a pure-Python reference (fold, then `in`, natural order), so the two databases are each held to the same
answer; test_sqlite_and_postgres_agree also runs both side by side in one test.
"""

from __future__ import annotations

import logging
import random
import uuid

import pytest

from models import Folder, Media, database
from services.database import bind_database, close_connection, init_db, is_postgres, open_database
from services.gallery import browse, search
from services.gallery.index import Indexer
from services.gallery.keys import fold, name_of, natural_key, path_hash
from tests.support import images, servers

SCRIPTS = ["abcdefghijklmnopqrstuvwxyzÀÉÎõüßçñøåæœİΣ", "абвгдежзийклмнопрстуфхцчшщыэюяЁЖ",
           "αβγδεζηθικλμνξοπρστυφχψωΣς", "東京大阪北京上海桜花火猫家族旅行紅葉富士山誕生日写真",
           "あいうえおカタカナタワー", "서울여행사진가족", "مرحباصورةعائلة", "नमस्तेफोटोपरिवार",
           "0123456789", "  -_.,;:!?()[]{}'\"%\\*~#&+=@$^`|<>", "ＡＢＣ１２３ﬁ"]
EXTRAS = ["😀", "🎉", "🌸", "🏖️", "👨‍👩‍👧", "e\u0301", "a\u0308", "\u0323", "%", "_", "\\", '"', "'", "*", " "]
FOLDERS = 40
PER_FOLDER = 60


def _name(rnd: random.Random) -> str:
    alphabet = "".join(rnd.sample(SCRIPTS, rnd.randint(1, 3)))
    parts = [rnd.choice(EXTRAS) if rnd.random() < 0.1 else rnd.choice(alphabet) for _ in range(rnd.randint(1, 12))]
    return "".join(parts).strip("/") + rnd.choice(["", "", ".jpg", ".JPG", ".mp4"])


def _library(seed: int = 24, count: int = FOLDERS) -> tuple[list[str], list[str]]:
    """Folder paths and media paths with names in many scripts; natural keys are unique, so order is total."""
    extra = ["\x01", "ab", "b", "ab\x01\x01c"]  # the padding character, and names of 1–2 characters
    rnd, keys, folders, media = random.Random(seed), {natural_key(name) for name in ["x", *extra]}, [], []

    def fresh() -> str:
        while True:
            name = _name(rnd)
            if name and natural_key(name) not in keys and name not in (".", ".."):
                keys.add(natural_key(name))
                return name
    for _ in range(count):
        folders.append(fresh())
    media = [f"{folder}/{fresh()}" for folder in folders for _ in range(PER_FOLDER)]
    media += [f"x/{name}" for name in extra]
    return [*folders, "x"], media


def _fill(folders: list[str], media: list[str]) -> None:
    """Rows as services/gallery/index.py writes them (only the columns search reads matter)."""
    with database.atomic():
        Folder.insert_many([dict(path_hash=path_hash(rel), path=rel, parent_hash=path_hash(""), name=rel,
                                 sort_key=natural_key(rel), name_folded=fold(rel)) for rel in folders]).execute()
        rows = [dict(path_hash=path_hash(rel), path=rel, folder_hash=path_hash(rel.rpartition("/")[0]),
                     name=name_of(rel), sort_key=natural_key(name_of(rel)), name_folded=fold(name_of(rel)),
                     folder_folded=fold(rel.rpartition("/")[0]), kind="photo", mime="image/jpeg", size=1, mtime=1.0)
                for rel in media]
        for start in range(0, len(rows), 200):
            Media.insert_many(rows[start:start + 200]).execute()


def _queries(folders: list[str], media: list[str], seed: int = 7) -> list[str]:
    rnd, texts = random.Random(seed), [fold(name_of(rel)) for rel in media + folders]
    drawn = []
    for length in (1, 1, 2, 2, 3, 4, 6):
        for _ in range(12):
            text = rnd.choice(texts)
            start = rnd.randrange(max(1, len(text) - length + 1))
            drawn.append(text[start:start + length])
        drawn.append(fold("".join(rnd.choice(rnd.choice(SCRIPTS)) for _ in range(length))))
    return [q for q in dict.fromkeys(drawn + ["%", "_", "\\", '"', "'", "*", " ", "%_", '""', ".jpg", "\x01", "ab",
                                             "b", "\x01\x01c", "😀", "e\u0301", "ss", "fi", "σ"]) if q]


def _found(text: str) -> tuple[list[str], list[str]]:
    media = (Media.select(Media.path).where(search.contains(text, Media.name_folded, Media.folder_folded))
             .order_by(browse.natural(Media)))
    albums = (Folder.select(Folder.path).where(search.contains(text, Folder.name_folded))
              .order_by(browse.natural(Folder)))
    return [row.path for row in albums], [row.path for row in media]


def _expected(text: str, folders: list[str], media: list[str]) -> tuple[list[str], list[str]]:
    def order(rel: str) -> bytes:
        return natural_key(name_of(rel)).encode()
    albums = sorted((rel for rel in folders if text in fold(rel)), key=order)
    found = [rel for rel in media if text in fold(name_of(rel)) or text in fold(rel.rpartition("/")[0])]
    return albums, sorted(found, key=order)


def _answers(folders, media) -> dict[str, tuple[list[str], list[str]]]:
    _fill(folders, media)
    return {text: _found(text) for text in _queries(folders, media)}


def test_every_query_finds_what_a_plain_substring_test_finds(db):
    folders, media = _library()
    for text, answer in _answers(folders, media).items():
        assert answer == _expected(text, folders, media), repr(text)


def test_search_pages_and_totals_match_the_reference(db):
    folders, media = _library()
    _fill(folders, media)
    for raw in ["e", "東", "ab", "京", "jpg", "सत", "%", "_"]:
        parsed, page = browse.search(raw, 1, 200)
        albums, found = _expected(parsed.folded, folders, media)
        assert page.total_results == len(albums) + len(found), raw
        assert [row.path for row in page.albums + page.media] == (albums + found)[:200], raw


@pytest.mark.integration
@pytest.mark.sqlite_run  # it starts both databases itself
def test_sqlite_and_postgres_agree(tmp_path, request):
    """Both databases side by side on the same rows (the reference comparisons above hold each to the same answer)."""
    folders, media = _library(seed=5, count=10)
    answers, admin = [], request.getfixturevalue("postgres_admin_url")
    for url in (f"sqlite:///{tmp_path / 'side.db'}", servers.create_pg_database(admin, "t_" + uuid.uuid4().hex[:12])):
        bind_database(open_database(url))
        init_db()
        answers.append(_answers(folders, media))
        close_connection()
    assert answers[0] == answers[1]
    assert all(answer == _expected(text, folders, media) for text, answer in answers[0].items())


def test_the_index_is_what_answers(db):
    _fill(*_library())
    for text in ("東京大", "ab"):
        select = Media.select(Media.path).where(search.contains(text, Media.name_folded, Media.folder_folded))
        sql, params = select.sql()
        with database.atomic():
            if is_postgres():
                database.execute_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params))
            else:
                plan = " ".join(row[-1] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        if is_postgres():
            kind = "trgm" if len(text) >= 3 else "grams"  # pg_trgm finds no trigram in a 1–2 character pattern
            assert f"media_name_folded_{kind}" in plan and f"media_folder_folded_{kind}" in plan, plan
        else:
            assert ("media_search_instances" if len(text) < 3 else "media_search") in plan, plan
            assert "SCAN t1" not in plan and "SCAN media " not in plan, plan


def test_a_rescan_is_searchable_at_once(db, config):
    root = config.photos_dir
    images.jpeg(root / "Reise nach Zürich" / "Matterhorn.jpg", size=(8, 8))
    images.jpeg(root / "東京" / "夜景.jpg", size=(8, 8))
    indexer = Indexer(root)
    indexer.scan()
    assert _found(fold("matterh")) == ([], ["Reise nach Zürich/Matterhorn.jpg"])
    assert _found("夜景")[1] == ["東京/夜景.jpg"]
    (root / "Reise nach Zürich" / "Matterhorn.jpg").rename(root / "Reise nach Zürich" / "Eiger.jpg")
    images.jpeg(root / "東京" / "花火.jpg", size=(8, 8))
    (root / "東京" / "夜景.jpg").unlink()
    (root / "Reise nach Zürich").rename(root / "Bern")
    indexer.scan()
    assert _found(fold("matterh")) == ([], [])
    assert _found("zür") == ([], [])
    assert _found("eiger") == ([], ["Bern/Eiger.jpg"])
    assert _found("bern") == (["Bern"], ["Bern/Eiger.jpg"])
    assert _found("夜景") == ([], [])
    assert _found("花") == ([], ["東京/花火.jpg"])
    assert _found("東京") == (["東京"], ["東京/花火.jpg"])


def test_an_existing_database_gets_its_index_with_the_rows_it_had(db, monkeypatch):
    """A database from before the search index: init_db makes it and indexes the rows already there."""
    folders, media = _library()
    _drop_indexes()
    _fill(folders, media)
    init_db()
    if is_postgres():
        names = {row[0] for row in database.execute_sql("SELECT indexname FROM pg_indexes")}
        assert {f"{table}_{kind}" for table in ("media_name_folded", "media_folder_folded", "folder_name_folded")
                for kind in ("trgm", "grams")} <= names
    else:
        assert search._exists("media_search") and search._exists("folder_search")
    for text in ("東", "ab", "東京大", ".jpg"):
        assert _found(text) == _expected(text, folders, media), text


def test_without_the_trigram_index_search_scans_and_says_so_once(db, monkeypatch, caplog):
    folders, media = _library()
    monkeypatch.setattr(search, "_said", set())
    _drop_indexes()
    if is_postgres():
        execute = type(database.obj).execute_sql

        def refused(self, sql, *args, **kwargs):
            if sql.startswith("CREATE EXTENSION"):
                raise RuntimeError("permission denied to create extension")
            return execute(self, sql, *args, **kwargs)
        monkeypatch.setattr(type(database.obj), "execute_sql", refused)
    else:
        monkeypatch.setattr(search, "trigram_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="photonix.gallery"):
        init_db()
        init_db()
    assert len([r for r in caplog.records if "scans every row" in r.getMessage()]) == 1
    _fill(folders, media)
    for text in ("東", "ab", "東京大", "%"):
        assert _found(text) == _expected(text, folders, media), text


def _drop_indexes() -> None:
    """Back to a database made before the search index existed."""
    if is_postgres():
        database.execute_sql("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
        database.execute_sql(f"DROP FUNCTION IF EXISTS {search.SHORT_GRAMS} CASCADE")
        return
    for table in ("media", "folder"):
        for suffix in ("insert", "delete", "update"):
            database.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_search_{suffix}"')
        database.execute_sql(f'DROP TABLE IF EXISTS "{table}_search_instances"')
        database.execute_sql(f'DROP TABLE IF EXISTS "{table}_search"')
