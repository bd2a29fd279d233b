"""The `photonix` command group: serve, init-db, doctor, set-password, index, thumbs, feeds, version,
sample-album.

Commands load the configuration themselves so that a bad configuration is reported as a list of
problems (exit 2) instead of a traceback; they call services, never HTTP views.
"""

from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup

from config import Config, ConfigError, environment_for, load_config
from errors import ValidationFailed
from services import cpu, database, events, resources, settings
from services.doctor import check_installation, check_url
from services.gallery import thumbs as gallery_thumbs
from services.gallery.index import Indexer
from services.sample import create_sample_album
from services.version import VERSION

EXIT_CONFIG = 2
THUMBS_NICENESS = 10  # `photonix thumbs` beside a server: CFS gives nice 0 ~9x the share of nice 10


def _create_app():
    from app import create_app

    return create_app(_config_or_exit())


class PhotonixGroup(FlaskGroup):
    """A FlaskGroup (commands may use `with_appcontext`) that never builds the app just to list commands,
    so `photonix --help` works even when the configuration is broken. Configuration comes from the
    environment only, so Flask's --app/--env-file/--debug options are dropped."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.params = [p for p in self.params if p.name not in ("app", "env_file", "debug")]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return click.Group.list_commands(self, ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return click.Group.get_command(self, ctx, cmd_name)


main = PhotonixGroup(
    name="photonix",
    help="Photonix, a self-hosted photo gallery server.",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)


def _config_or_exit() -> Config:
    try:
        return load_config()
    except ConfigError as exc:
        click.echo(exc.report(), err=True)
        sys.exit(EXIT_CONFIG)


def _prepare_database(config: Config) -> None:
    database.bind_database(database.open_database(config.database_url))
    database.init_db()
    database.close_connection()


@main.command("serve", with_appcontext=False)
def serve() -> None:
    """Prepare the database, then run gunicorn (gevent)."""
    config = _config_or_exit()
    _prepare_database(config)
    click.echo(f"Photonix {VERSION} serving {config.photos_dir} on http://{config.bind} ({config.workers} worker(s))")
    if config.admin_secret is None:
        how = "PHOTONIX_ADMIN_SECRET=… make run" if config.dev else "PHOTONIX_ADMIN_SECRET in the environment"
        click.echo(f"no admin secret is set: settings and the download center stay locked; set one with {how}")
    # gunicorn loads the configuration again, in this working directory (no chdir: relative paths keep their
    # meaning) and with the paths already made absolute; its settings file ships inside the package.
    argv = [sys.executable, "-m", "gunicorn", "-c", str(resources.path("gunicorn.conf.py")), "wsgi:app"]
    os.execve(sys.executable, argv, environment_for(config))  # noqa: S606 (fixed argv, no shell)


@main.command("init-db", with_appcontext=False)
def init_db() -> None:
    """Create or upgrade the database schema (idempotent)."""
    config = _config_or_exit()
    _prepare_database(config)
    click.echo(f"database ready ({'postgresql' if config.is_postgres else 'sqlite'})")


@main.command("doctor", with_appcontext=False)
@click.option("--url", help="Also check the path through the proxy, e.g. https://photos.example.com/gallery")
@click.option("--insecure", is_flag=True, help="With --url: do not verify the TLS certificate.")
def doctor(url: str | None, insecure: bool) -> None:
    """Check config, folders, database, limiter and proxy."""
    try:
        config = load_config()
    except ConfigError as exc:
        click.echo(exc.report(), err=True)
        sys.exit(1)
    click.echo("ok    configuration")
    checks = check_installation(config) + (check_url(url, verify_tls=not insecure) if url else [])
    for check in checks:
        click.echo(f"{'FAIL' if not check.ok else 'warn' if check.warn else 'ok  '}  {check.name}: {check.detail}")
        if check.fix and (check.warn or not check.ok):
            click.echo(f"      fix: {check.fix}")
    sys.exit(0 if all(check.ok for check in checks) else 1)


@main.command("set-password", with_appcontext=False)
@click.option("--off", is_flag=True, help="Turn password protection off instead (the gallery becomes open).")
@click.option("--public/--private", default=None, help="Also allow or forbid reading without logging in.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
def set_password(off: bool, public: bool | None, password_stdin: bool) -> None:
    """Set or turn off the gallery password; logs every viewer out.

    For an owner locked out of the web UI: works on the database directly, no admin secret needed.
    """
    config = _config_or_exit()
    if off:
        changes: dict[str, object] = {"passwordEnabled": False}
    elif password_stdin:
        changes = {"newPassword": sys.stdin.readline().rstrip("\r\n")}
    else:
        changes = {"newPassword": click.prompt("New gallery password", hide_input=True, confirmation_prompt=True)}
    if public is not None:
        changes["publicAccess"] = public
    _prepare_database(config)
    try:
        changed = settings.change_settings(changes)
        state = settings.auth_state()
    except ValidationFailed as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    finally:
        database.close_connection()
    mode = "off" if not state.password_enabled else "on, " + ("public" if state.public_access else "private")
    click.echo(f"password protection {mode}" + ("" if changed else " (nothing changed)"))


@main.command("index", with_appcontext=False)
def index() -> None:
    """Scan the photos folder now, showing progress."""
    config = _config_or_exit()
    _prepare_database(config)
    # On a terminal the progress line rewrites itself (\r); piped, each is a line of its own, and so is the result.
    overwrite = sys.stdout.isatty()

    def publish(kind: str, data: dict) -> None:
        events.publish(kind, data)  # a browser open on the gallery sees the progress too
        if kind == "index-progress":
            line = f"{data['folders']} folders, {data['files']} files ..."
            click.echo("\r" + line if overwrite else line, nl=not overwrite)

    try:
        stats = Indexer(config.photos_dir, publish).scan()
    finally:
        database.close_connection()
    start = "\r" if overwrite else ""
    click.echo(f"{start}indexed {stats.folders} folders, {stats.files} files: {stats.added} added, "
               f"{stats.updated} updated, {stats.removed} removed")


@main.command("thumbs", with_appcontext=False)
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=THUMBS_NICENESS, show_default=True,
              help="Lower the CPU priority of the work by this much (0: keep it), so that a server on this "
                   "machine keeps answering.")
def thumbs(niceness: int) -> None:
    """Make every missing thumbnail now, with a progress bar."""
    config = _config_or_exit()
    _prepare_database(config)
    thumbnailer = gallery_thumbs.make_thumbnailer(config)
    cpu.configure(config.thumb_threads)  # a new pool: its threads start from the lowered ones below
    bar = None

    def progress(done: int, total: int, failed: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="thumbnails", show_pos=True)
        bar.update(done - bar.pos)

    try:
        done, failed = cpu.run_lowered(
            niceness, lambda: gallery_thumbs.make_missing(thumbnailer, config.photos_dir, progress))
    finally:
        database.close_connection()
        cpu.shutdown()  # its lowered threads end with the command
    if bar is not None:
        bar.render_finish()
    click.echo(f"{done - failed} thumbnails made, {failed} failed" + (" (see the log for reasons)" if failed else ""))


@main.command("videos", with_appcontext=False)
@click.option("--retry-failed", is_flag=True, help="Try again the videos ffmpeg could not read before.")
def videos(retry_failed: bool) -> None:
    """Make every missing HLS rendition now, with a progress bar.

    ffmpeg runs niced, PHOTONIX_VIDEO_THREADS at a time; resumable."""
    from services.video import batch as video_batch

    config = _config_or_exit()
    _prepare_database(config)
    renditions = video_batch.make_renditions(config)
    if not renditions.enabled:
        click.echo("ffmpeg and ffprobe are not installed: videos play as their original files", err=True)
        sys.exit(1)
    if retry_failed:
        video_batch.forget_failures(renditions)
    bar = None

    def progress(path: str, fraction: float, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="videos", show_pos=True)
        bar.update(done - bar.pos)

    try:
        made, failed = video_batch.run_batch(renditions, config.photos_dir, config.video_threads,
                                             keep_going=lambda: True, also=progress)
    finally:
        database.close_connection()
    if bar is not None:
        bar.render_finish()
    click.echo(f"{made} videos made ready for streaming, {failed} failed" +
               (" (see the log for reasons)" if failed else ""))


@main.group("feeds")
def feeds() -> None:
    """Run the download center's feed subscriptions."""


@feeds.command("run", with_appcontext=False)
@click.option("--task", "task_id", type=int, help="Run this task now (even if paused or not due).")
def feeds_run(task_id: int | None) -> None:
    """Run due feeds once (or one task), showing progress; exit 1 if a run failed."""
    from services.downloads import scheduler

    config = _config_or_exit()
    _prepare_database(config)

    def progress(data: dict) -> None:
        click.echo(f"\rtask {data['taskId']}: {data['entriesDone']}/{data['entriesTotal']} entries, "
                   f"{data['saved']} saved, {data['duplicates']} duplicates, {data['failed']} failed", nl=False)

    runner = scheduler.make_runner(config.photos_dir, config.max_image_pixels)
    try:
        due = {task_id: True} if task_id is not None else scheduler.due_tasks()
        summaries = [runner.run(i, on_progress=progress, queued_only=not full) for i, full in due.items()]
    finally:
        database.close_connection()
    for s in summaries:
        detail = f": {s.error}" if s.error else ""
        click.echo(f"\rtask {s.task_id} {s.status}{detail}: {s.new_entries} new entries, {s.saved} images saved, "
                   f"{s.duplicates} duplicates, {s.failed} failed, {s.retrying} to retry")
    if not summaries:
        click.echo("no task is due")
    sys.exit(1 if any(s.status in ("failed", "busy") for s in summaries) else 0)


@main.command("version", with_appcontext=False)
def version() -> None:
    """Print the Photonix version."""
    click.echo(VERSION)


@main.command("sample-album", with_appcontext=False)
def sample_album() -> None:
    """Generate a sample album into an empty photos folder."""
    config = _config_or_exit()
    written = create_sample_album(config.photos_dir)
    click.echo(f"sample album: {written} photos written" if written else "photos folder not empty: left as it is")
