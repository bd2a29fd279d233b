"""The photonix command, run as a real subprocess the way an owner runs it."""

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import main
from config import DEV_SECRET_FILE, load_config
from services import resources
from tests.conftest import ADMIN_SECRET, JWT_SECRET
from tests.support.servers import ROOT

PHOTONIX = str(Path(sys.executable).with_name("photonix"))


def run(args, env, timeout=60, stdin=None):
    base = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run([PHOTONIX, *args], env={**base, **env}, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, input=stdin)


def test_help_lists_every_command_with_one_line(tmp_path):
    result = run(["--help"], {"PHOTONIX_PHOTOS_DIR": str(tmp_path / "missing")})
    assert result.returncode == 0, result.stderr
    for command in ("serve", "init-db", "doctor", "set-password", "index", "thumbs", "feeds", "version",
                    "sample-album"):
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(command + " "))
        assert not line.rstrip().endswith("..."), line


def test_serve_with_bad_config_prints_every_problem_and_fails(tmp_path):
    result = run(["serve"], {"PHOTONIX_JWT_SECRET": "short", "PHOTONIX_PHOTOS_DIR": str(tmp_path / "none"),
                             "PHOTONIX_DATA_DIR": str(tmp_path / "data"), "PHOTONIX_WORKERS": "3"})
    assert result.returncode == 2
    for name in ("PHOTONIX_JWT_SECRET", "PHOTONIX_PHOTOS_DIR", "PHOTONIX_WORKERS"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_init_db_is_idempotent_and_doctor_agrees(env, empty_database_url):
    env = {**env, "PHOTONIX_DATABASE_URL": empty_database_url}
    before = run(["doctor"], env)
    assert before.returncode == 1 and "photonix init-db" in before.stdout
    for _ in range(2):
        assert run(["init-db"], env).returncode == 0
    after = run(["doctor"], env)
    assert after.returncode == 0, after.stdout
    assert "FAIL" not in after.stdout


def test_doctor_reports_unreachable_redis(env):
    result = run(["doctor"], {**env, "PHOTONIX_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert "limiter storage" in result.stdout and "PHOTONIX_REDIS_URL" in result.stdout


def test_doctor_with_bad_config_fails(tmp_path):
    result = run(["doctor"], {"PHOTONIX_PHOTOS_DIR": str(tmp_path / "none"), "PHOTONIX_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1 and "PHOTONIX_JWT_SECRET" in result.stderr


def test_version(env):
    result = run(["version"], env)
    assert result.returncode == 0 and result.stdout.strip()[0].isdigit()


def test_sample_album_fills_only_an_empty_folder(env, photos_dir):
    from PIL import Image

    assert "6 photos" in run(["sample-album"], env).stdout
    photos = sorted(photos_dir.rglob("*.jpg"))
    assert len(photos) == 6
    with Image.open(photos[0]) as image:
        assert image.format == "JPEG" and image.size == (1600, 1066)
    assert "not empty" in run(["sample-album"], env).stdout
    assert len(sorted(photos_dir.rglob("*.jpg"))) == 6


def test_set_password_for_an_owner_locked_out_of_the_web_ui(env, app):
    from services import settings
    from services.auth.passwords import verify_password

    result = run(["set-password", "--password-stdin", "--public"], env, stdin="new gallery password\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "password protection on, public"
    state = settings.auth_state()
    assert state.password_enabled and state.public_access and state.epoch == 1
    assert verify_password("new gallery password", state.password_hash)
    short = run(["set-password", "--password-stdin"], env, stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr and "Traceback" not in short.stderr
    off = run(["set-password", "--off"], env)
    assert off.returncode == 0 and off.stdout.strip() == "password protection off"
    assert not settings.auth_state().password_enabled and settings.auth_state().epoch == 2


def test_index_command_scans_and_reports(env, app, photos_dir):
    from models import Event, Media
    from tests.support import images

    images.jpeg(photos_dir / "album" / "one.jpg")
    images.png(photos_dir / "album" / "deeper" / "two.png")
    result = run(["index"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("indexed 3 folders, 2 files: 2 added, 0 updated, 0 removed")
    assert sorted(m.path for m in Media.select()) == ["album/deeper/two.png", "album/one.jpg"]
    assert Event.select().where(Event.type == "index-complete").count() == 1


def test_thumbs_command_makes_the_missing_ones(env, app, photos_dir, tmp_path):
    from tests.support import images

    images.jpeg(photos_dir / "album" / "one.jpg")
    images.truncated_jpeg(photos_dir / "album" / "two.jpg")
    assert run(["index"], env).returncode == 0
    result = run(["thumbs"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("1 thumbnails made, 1 failed (see the log for reasons)")
    assert len(list((tmp_path / "data" / "thumbs").rglob("*.webp"))) == 1
    again = run(["thumbs"], env)
    assert again.stdout.strip().endswith("0 thumbnails made, 0 failed")


def test_feeds_run_with_nothing_due_and_with_an_unknown_task(env):
    nothing = run(["feeds", "run"], env)
    assert nothing.returncode == 0 and "no task is due" in nothing.stdout, nothing.stderr
    unknown = run(["feeds", "run", "--task", "99"], env)
    assert unknown.returncode == 1 and "task 99 failed: There is no download task 99." in unknown.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr


# --- in-process (click's CliRunner): serve's hand-over to gunicorn, piped output -----------------------
class Execed(Exception):
    """Raised instead of exec()ing gunicorn."""


def record_exec(monkeypatch) -> dict:
    """Replaces exec and chdir with recorders: `photonix serve` stops where it would become gunicorn."""
    calls: dict = {"chdir": []}

    def execve(path, argv, env=None):
        calls.update(path=path, argv=list(argv), env=dict(os.environ if env is None else env))
        raise Execed

    monkeypatch.setattr(os, "execv", lambda path, argv: execve(path, argv))
    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(os, "chdir", calls["chdir"].append)
    return calls


def invoke(args, env):
    """`photonix ARGS` in this process with exactly these PHOTONIX_* variables (the others unset)."""
    unset = {name: None for name in os.environ if name.startswith("PHOTONIX_")}
    return CliRunner().invoke(main, args, env={**unset, **env})


def test_serve_from_elsewhere_hands_gunicorn_absolute_paths_and_never_chdirs(tmp_path, monkeypatch):
    real_chdir = os.chdir
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "photos").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    exec_recorder = record_exec(monkeypatch)
    result = invoke(["serve"], {"PHOTONIX_PHOTOS_DIR": "./photos", "PHOTONIX_DATA_DIR": "./data",
                                "PHOTONIX_JWT_SECRET": JWT_SECRET})
    assert isinstance(result.exception, Execed), result.output
    assert f"serving {elsewhere / 'photos'}" in result.output
    assert exec_recorder["chdir"] == []
    config_arg = exec_recorder["argv"][exec_recorder["argv"].index("-c") + 1]
    assert Path(config_arg.removeprefix("file:")) == resources.path("gunicorn.conf.py")
    child_env = exec_recorder["env"]
    assert child_env["PHOTONIX_PHOTOS_DIR"] == str(elsewhere / "photos")
    # gunicorn loads the configuration again: from any folder it must find the same photos and database.
    (tmp_path / "other" / "photos").mkdir(parents=True)
    real_chdir(tmp_path / "other")
    child = load_config(child_env)
    assert child.photos_dir == elsewhere / "photos" and child.data_dir == elsewhere / "data"
    assert child.database_url == f"sqlite:///{elsewhere / 'data' / 'photonix.db'}"
    assert (elsewhere / "data" / "photonix.db").is_file()


def test_serve_names_a_missing_admin_secret_and_how_to_set_it(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    record_exec(monkeypatch)
    dev = invoke(["serve"], {"PHOTONIX_DEV": "1"})
    assert isinstance(dev.exception, Execed), dev.output
    assert "no admin secret is set" in dev.output and "PHOTONIX_ADMIN_SECRET=… make run" in dev.output
    server = invoke(["serve"], {"PHOTONIX_JWT_SECRET": JWT_SECRET})
    assert "no admin secret is set" in server.output and "PHOTONIX_ADMIN_SECRET" in server.output
    assert "make run" not in server.output
    configured = invoke(["serve"], {"PHOTONIX_JWT_SECRET": JWT_SECRET, "PHOTONIX_ADMIN_SECRET": ADMIN_SECRET})
    assert "admin secret" not in configured.output


def test_doctor_in_dev_mode_needs_no_jwt_secret_and_uses_serves(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    result = invoke(["doctor"], {"PHOTONIX_DEV": "1"})
    assert result.output.startswith("ok    configuration"), result.output
    assert "warn  mode: development" in result.output
    secret = (tmp_path / "data" / DEV_SECRET_FILE).read_text().strip()
    assert load_config({"PHOTONIX_DEV": "1"}).jwt_secret == secret  # what serve then signs with


def test_index_piped_prints_progress_and_the_result_on_lines_of_their_own(env, app, photos_dir):
    from tests.support import images

    images.jpeg(photos_dir / "album" / "one.jpg")
    result = invoke(["index"], env)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output
    lines = result.output.splitlines()
    assert lines[-1] == "indexed 2 folders, 1 files: 1 added, 0 updated, 0 removed"
    assert all(line.endswith("files ...") for line in lines[:-1]) and len(lines) >= 2


def test_thumbs_mentions_the_log_only_when_something_failed(env, app, photos_dir):
    from tests.support import images

    images.jpeg(photos_dir / "album" / "one.jpg")
    assert invoke(["index"], env).exit_code == 0
    made = invoke(["thumbs"], env)
    assert made.exit_code == 0, made.output
    assert made.output.splitlines()[-1] == "1 thumbnails made, 0 failed"
    images.truncated_jpeg(photos_dir / "album" / "two.jpg")
    assert invoke(["index"], env).exit_code == 0
    failed = invoke(["thumbs"], env)
    assert failed.output.splitlines()[-1] == "0 thumbnails made, 1 failed (see the log for reasons)"


def test_a_relative_sqlite_url_is_made_absolute_where_the_command_starts(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config({"PHOTONIX_JWT_SECRET": JWT_SECRET, "PHOTONIX_DATABASE_URL": "sqlite:///db/gallery.db"})
    assert config.database_url == f"sqlite:///{tmp_path / 'db' / 'gallery.db'}"
