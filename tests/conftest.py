"""Shared fixtures: a real SQLite file (or PostgreSQL with --db=postgres) and real folders under tmp_path."""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageFile
from werkzeug.routing.rules import Rule

from app import create_app
from config import load_config
from services import events
from services.database import bind_database, close_connection, init_db, open_database
from tests.support import servers
from tests.support.pg_pool import PgPool
from tests.support.waiting import FAILSAFE_S

JWT_SECRET = "k3J9-q8Zt2VwX5mN7pR4sL6yB1cD0fGh-test-only"
ADMIN_SECRET = "adm1n-s3cret-for-tests"


def _compile_url_builders_on_first_use() -> None:
    """Test speed only: werkzeug compiles two URL builders for each of the app's ~80 routes when an app is made
    (~55 ms of the ~65 ms create_app costs; ~3,700 apps are made in a run). Here each builder is compiled by the
    same werkzeug code when it is first used (url_for), which most test apps never do."""
    compile_builder = Rule._compile_builder

    def on_first_use(self, append_unknown=True):
        compiled = None

        def build(*args, **kwargs):  # bound to the rule by Rule.compile, as the compiled builder would be
            nonlocal compiled
            if compiled is None:
                compiled = compile_builder(self, append_unknown)
            return compiled(*args, **kwargs)

        return build

    Rule._compile_builder = on_first_use


_compile_url_builders_on_first_use()


def pytest_addoption(parser):
    parser.addoption("--db", choices=("sqlite", "postgres"), default="sqlite",
                     help="database the app fixtures use (default sqlite)")


_SHARED_FIXTURE = re.compile(r"@pytest\.fixture\([^)]*scope=[\"'](?:module|class|package)[\"']")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`pytest -n N --dist loadgroup` (make test): every test is a unit of its own, except that a module defining
    a module- or class-scoped fixture goes whole to one worker, which then makes the fixture once (a wheel built
    from the checkout, a 14000x14000 PNG) instead of each worker making it at the same time. xdist's own
    loadgroup (tests marked xdist_group) cannot tag node ids under pytest 9, so it would group nothing."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return module if _shares_a_fixture(config.rootpath / module) else nodeid

    return ModuleFixtureScheduling(config, log)


@functools.cache
def _shares_a_fixture(path: Path) -> bool:
    return path.is_file() and bool(_SHARED_FIXTURE.search(path.read_text(errors="replace")))


_DATABASE_FIXTURES = {"db_kind", "database_url", "postgres_admin_url"}  # what every database use goes through


@pytest.hookimpl(trylast=True)  # after pytest's own grouping by fixture, which the stable sort keeps
def pytest_collection_modifyitems(config, items):
    """In a parallel run (pytest -n, each xdist worker collects alike), slow tests first, then those that start
    servers, then the rest: the long ones then start at once on every worker, and the quick ones fill the gaps,
    instead of one long test starting last and running alone. With --db=postgres, tests that use no database (no
    database fixture: nearly half of tests/unit and tests/api, whose answers a database cannot change) and tests
    marked sqlite_run (they start both databases themselves, or test nothing a database changes) are left out, as
    the SQLite run has them."""
    if config.getoption("--db") == "postgres":
        left_out = [item for item in items if item.get_closest_marker("sqlite_run")
                    or not _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            dropped = set(map(id, left_out))
            items[:] = [item for item in items if id(item) not in dropped]
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else
                   1 if item.get_closest_marker("integration") else 2)


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def postgres_admin_url():
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url) -> str:
    """A database migrated once, copied for each test (CREATE DATABASE … TEMPLATE): init_db's DDL on an empty
    PostgreSQL database costs ~80 ms, ~1,600 times a run otherwise. Each test still runs init_db on its copy, and
    this first run on an empty database fails every test if init_db is broken."""
    name = "template_" + uuid.uuid4().hex[:12]
    database = open_database(servers.create_pg_database(postgres_admin_url, name))
    bind_database(database)
    init_db()
    close_connection()
    database.close_all()  # a template must have no connection when it is copied
    return name


@pytest.fixture(scope="session")
def postgres_pool(postgres_admin_url, postgres_template) -> PgPool:
    return PgPool(postgres_admin_url, postgres_template)


@pytest.fixture
def database_url(request, db_kind, tmp_path) -> Iterator[str]:
    if db_kind == "postgres":
        pool = request.getfixturevalue("postgres_pool")
        url = pool.take()
        yield url
        pool.give_back(url)
    else:
        yield f"sqlite:///{tmp_path / 'data' / 'photonix.db'}"


@pytest.fixture
def empty_database_url(request, db_kind, database_url) -> str:
    """A database without any table yet (on PostgreSQL, `database_url` is a copy of a migrated one)."""
    if db_kind == "postgres":
        return servers.create_pg_database(request.getfixturevalue("postgres_admin_url"), "e_" + uuid.uuid4().hex[:12])
    return database_url


@pytest.fixture
def two_cpu_threads():
    """The CPU pool at 2 threads (as on the 2-core target machine) for the test, then back to its default."""
    from services import cpu

    cpu.configure(2)
    yield
    cpu.configure(cpu.DEFAULT_SIZE)


@pytest.fixture
def photos_dir(tmp_path) -> Path:
    path = tmp_path / "photos"
    path.mkdir()
    return path


@pytest.fixture
def env(tmp_path, photos_dir, database_url) -> dict[str, str]:
    """The PHOTONIX_* environment of a test server; tests add or change keys before use."""
    return {
        "PHOTONIX_PHOTOS_DIR": str(photos_dir),
        "PHOTONIX_DATA_DIR": str(tmp_path / "data"),
        "PHOTONIX_JWT_SECRET": JWT_SECRET,
        "PHOTONIX_ADMIN_SECRET": ADMIN_SECRET,
        "PHOTONIX_DATABASE_URL": database_url,
    }


@pytest.fixture
def config(env):
    return load_config(env)


@pytest.fixture
def db(config, db_kind):
    """The test database opened, bound to the models and migrated, without a Flask app."""
    database = open_database(config.database_url)
    bind_database(database)
    _migrate(db_kind)
    yield database
    _join_thumbnail_threads()
    # A test that opened an event stream started the hub's poller thread: stopped here, or it would poll the next
    # test's database and log its failures from a thread (CPython 3.11's traceback carets call ast.parse, which
    # is not thread-safe: a test compiling at that moment failed with "AST constructor recursion depth mismatch").
    events.shutdown()
    close_connection()
    if hasattr(database, "close_all"):  # the PostgreSQL pool
        database.close_all()


@pytest.fixture
def app(config, db_kind):
    app = create_app(config)
    _migrate(db_kind)
    yield app
    _join_thumbnail_threads()
    events.shutdown()  # as in `db`
    close_connection()


def _migrate(db_kind: str) -> None:
    """init_db on SQLite's new file. A PostgreSQL test database is the migrated template as it was (postgres_pool):
    init_db there would only check what the template's own run made (43 ms a test); it runs on an empty PostgreSQL
    database for the template itself, and in the tests that use `empty_database_url` (init-db, older databases)."""
    if db_kind != "postgres":
        init_db()


def _join_thumbnail_threads() -> None:
    """A thumbnail a test was told is "processing" goes on being made after the test, then announced: into the next
    test's database, from its thread, while the fixtures close and open connections (a segfault in SQLite once)."""
    for thread in threading.enumerate():
        if thread.name.startswith("thumbnail-"):
            thread.join(FAILSAFE_S)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def loads(monkeypatch) -> list[int]:
    """Counts pixel decoding (ImageFile.load) anywhere in the process."""
    calls: list[int] = []
    load = ImageFile.ImageFile.load

    def counted(self):
        calls.append(1)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    return calls
