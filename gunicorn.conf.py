"""gunicorn settings: gevent workers, bind and worker count from PHOTONIX_* config, SSE-friendly timeouts.

Background jobs start in each worker after fork (post_worker_init), never in create_app; only the
process holding the database lease actually runs them (services/jobs.py).
"""

from config import load_config
from services.accesslog import AccessLogger

_config = load_config()

bind = [_config.bind]
workers = _config.workers
worker_class = "gevent"
# A hard cap per worker on open connections, SSE streams included (gunicorn's default is 1000).
worker_connections = 10_000
timeout = 30
graceful_timeout = 10
# An idle keep-alive connection holds a graceful stop until it times out: keep that short.
keepalive = 2
# The longest request line gunicorn allows (default 4094): a gallery path of the app's 2,048 characters
# grows past 4 KB once percent-encoded. nginx's default large_client_header_buffers (8k) fits it too.
limit_request_line = 8190
# Only ProxyFix (PHOTONIX_TRUSTED_PROXIES) may trust X-Forwarded-*; gunicorn must not do it on its own.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
accesslog = "-"
# Request-controlled atoms escaped and the client as a parsed address: no header can forge a log line.
logger_class = AccessLogger
access_log_format = 'pid=%(p)s %(h)s fwd="%({x-forwarded-for}i)s" "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
proc_name = "photonix"
# gunicorn >= 25.1 opens a control socket in ~/.gunicorn (or $XDG_RUNTIME_DIR): a home-less service user
# cannot create it, and two instances on one host would take over each other's. Nothing here uses it.
control_socket_disable = True


def post_worker_init(worker):
    from services import derived_upkeep, events, jobs
    from services.albums import actions
    from services.downloads import scheduler
    from services.gallery import index, thumbs, watcher
    from services.settings import auth_state
    from services.video import batch as video_batch

    config = worker.wsgi.extensions["photonix"]
    publish = derived_upkeep.following_index(events.publish)  # new videos made, what gone files had pruned
    index.register_job(config.photos_dir, config.scan_interval_seconds, publish)
    watcher.register_job(config.photos_dir, config.watch, publish)
    thumbs.register_job(worker.wsgi.extensions["photonix_thumbnailer"], config.photos_dir)
    video_batch.register_job(worker.wsgi.extensions["photonix_videos"], config.photos_dir, config.video_threads)
    scheduler.register_job(scheduler.make_runner(config.photos_dir, config.max_image_pixels))
    actions.register_job(config.photos_dir, config.data_dir, lambda: auth_state().trash_days)
    derived_upkeep.register_job(worker.wsgi.extensions["photonix_videos"], actions.trash_dir(config.data_dir))
    jobs.start_background(config)
    _end_streams_on_sigterm(worker)


def _end_streams_on_sigterm(worker):
    """On a graceful stop, end open event streams at once instead of waiting graceful_timeout for them:
    clients reconnect (to another worker, or after the restart) and replay what they missed."""
    import signal

    import gevent

    from services import jobs

    graceful_exit = worker.handle_exit

    def handle_exit(sig, frame):
        graceful_exit(sig, frame)
        gevent.spawn(jobs.stop_background, final=True)

    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):
    from services import cpu, jobs

    jobs.stop_background(final=True)
    cpu.shutdown()
