"""Conventions turned into tests: import direction, the one env reader, every variable documented."""

import ast
from pathlib import Path

import pytest

from config import PREFIX, VARIABLES

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted(
    p for p in ROOT.rglob("*.py")
    if not set(p.relative_to(ROOT).parts[:1]) & {"tests", "bench", ".venv", "build"}
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def files_in(folder: str) -> list[Path]:
    return [p for p in APP_FILES if p.relative_to(ROOT).parts[0] == folder]


def test_app_files_were_found():
    assert len(files_in("services")) >= 3 and len(files_in("blueprints")) >= 3


@pytest.mark.parametrize("path", files_in("services"), ids=lambda p: p.name)
def test_services_never_import_flask(path):
    assert not imported_modules(path) & {"flask", "werkzeug", "flask_jwt_extended", "flask_limiter",
                                         "blueprints", "app"}


@pytest.mark.parametrize("path", files_in("blueprints"), ids=lambda p: p.name)
def test_blueprints_never_import_peewee(path):
    assert not imported_modules(path) & {"peewee", "playhouse", "models"}


@pytest.mark.parametrize("path", files_in("models"), ids=lambda p: p.name)
def test_models_are_below_services(path):
    assert not imported_modules(path) & {"flask", "services", "blueprints", "app"}


@pytest.mark.parametrize("name", ["errors.py", "config.py"])
def test_leaves_import_nothing_of_ours(name):
    ours = {"app", "cli", "wsgi", "services", "blueprints", "models", "errors", "config"}
    assert not imported_modules(ROOT / name) & ours


def reads_environment(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":  # not request.environ (WSGI)
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ("environ", "getenv", "environb") for alias in node.names):
                return True
    return False


def test_only_config_reads_the_environment():
    readers = [str(p.relative_to(ROOT)) for p in APP_FILES if reads_environment(p)]
    assert readers == ["config.py"]


def test_every_variable_is_documented():
    reference = (ROOT / "docs" / "configuration.md").read_text()
    missing = [PREFIX + v.name for v in VARIABLES if f"| `{PREFIX + v.name}` |" not in reference]
    assert missing == []


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_run, first_test = readme.find("make run"), readme.find("make test")
    assert 0 < first_run < 2500 and 0 < first_test < 2500


def test_every_auth_refusal_is_explained_in_the_docs():
    import errors

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    extra = {"LOGIN_LOCKED", "ADMIN_REQUIRED", "ADMIN_SECRET_NOT_CONFIGURED", "PASSWORD_DISABLED",
             "LIMITER_UNAVAILABLE"}
    codes = {cls.code for cls in subclasses(errors.AppError) if cls.status == 401} | extra
    auth = (ROOT / "docs" / "auth.md").read_text()
    troubleshooting = auth[auth.index("## When logins fail"):]
    assert sorted(code for code in codes if f"| `{code}` |" not in troubleshooting) == []
