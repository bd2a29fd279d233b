"""A real nginx running a SHIPPED config from nginx/, on loopback, always torn down.

Only addresses and paths are rewritten (upstream, listen ports, static dir, snippet includes, extra paths
such as certificates); every directive is used as shipped. `subpath_stack` adds gunicorn behind it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ROOT, Gunicorn, free_port, require_binary, stop_process, wait_for_port
from tests.support.waiting import until

NGINX_DIR = ROOT / "nginx"
SUBPATH_CONF = NGINX_DIR / "photonix-subpath.conf"
SNIPPETS_DIR = NGINX_DIR / "snippets"
STATIC_DIR = ROOT / "static"
UPSTREAM = "127.0.0.1:12080"
# Shipped values are rewritten only as the argument of their directive, never inside comments.
_UPSTREAM = re.compile(r"^(\s*(?:server\s+|proxy_pass\s+https?://))127\.0\.0\.1:12080\b", re.MULTILINE)
_STATIC = re.compile(r"^(\s*alias\s+)/opt/photonix/static/", re.MULTILINE)
_SNIPPETS = re.compile(r"^(\s*include\s+)/etc/nginx/snippets/", re.MULTILINE)
_ACCESS_LOG = re.compile(r"^(\s*access_log\s+)/var/log/nginx/", re.MULTILINE)
_LISTEN = re.compile(r"^(\s*listen\s+)(\S+?)([\s;])", re.MULTILINE)
MIME_TYPES = Path("/etc/nginx/mime.types")
START_TIMEOUT_S = 10.0
BIND_ATTEMPTS = 5

MAIN_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 1024; }}
http {{
    {types}
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
# Used only where the system's mime.types is missing: ES modules need a JavaScript content type.
FALLBACK_TYPES = ("types { text/html html; text/css css; application/javascript js mjs; image/svg+xml svg; "
                  "image/png png; image/jpeg jpg jpeg; image/webp webp; application/json json; }")


class Nginx:
    """`nginx -c <main> -p <tmp>` serving `conf_path` with its upstream pointed at `upstream_port`."""

    def __init__(self, conf_path: Path, upstream_port: int, tmp_path: Path, static_dir: Path = STATIC_DIR,
                 replacements: dict[str, str] | None = None, snippets_dir: Path = SNIPPETS_DIR):
        self.binary = require_binary("nginx", "/usr/sbin/nginx")
        self.dir = tmp_path / "nginx"
        self.ports: dict[int, int] = {}  # shipped listen port -> test port
        self.snippets_dir = snippets_dir
        self._render_site = lambda: self._render(conf_path.read_text(), upstream_port, static_dir, replacements or {})
        self._choose_ports()
        self.proc: subprocess.Popen | None = None

    def _choose_ports(self) -> None:
        self.ports.clear()
        self.site = self._render_site()
        self.port = self.ports.get(80) or self.ports[443]
        self.url = f"{'http' if 80 in self.ports else 'https'}://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        """Start, on other ports while nginx exits unable to bind (test workers pick ports at the same time)."""
        for _ in range(BIND_ATTEMPTS):
            if self._start_once():
                return self
            self._choose_ports()
        raise RuntimeError(f"nginx could not bind free ports {BIND_ATTEMPTS} times:\n{self.log()}")

    def _start_once(self) -> bool:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "site.conf").write_text(self.site)
        types = f"include {MIME_TYPES};" if MIME_TYPES.exists() else FALLBACK_TYPES
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read tmp_path (mode 0700)
        (self.dir / "main.conf").write_text(MAIN_CONF.format(user=user, tmp=self.dir, types=types))
        args = [self.binary, "-c", str(self.dir / "main.conf"), "-p", f"{self.dir}/", "-e", str(self.dir / "error.log")]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            pytest.fail(f"nginx -t rejected the rendered config:\n{checked.stderr}\n--- site.conf\n{self.site}",
                        pytrace=False)
        pid_file = self.dir / "nginx.pid"
        pid_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # nginx writes its pid file only once it holds every listen port: a connection alone could reach
            # another process that took the port first.
            until(lambda: self.proc.poll() is not None or pid_file.exists(), "nginx neither listened nor exited",
                  START_TIMEOUT_S)
            if self.proc.poll() is not None:
                return False
            wait_for_port(self.port, START_TIMEOUT_S, self.proc)
        except (RuntimeError, AssertionError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"nginx did not start ({exc}):\n{self.log()}") from None
        except BaseException:
            self.stop()
            raise
        return True

    def log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)  # SIGTERM: nginx's fast shutdown (a graceful one waits for open streams)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _render(self, text: str, upstream_port: int, static_dir: Path, replacements: dict[str, str]) -> str:
        if not (static_dir.is_dir() and os.access(static_dir, os.R_OK | os.X_OK)):
            raise ValueError(f"{static_dir} is not a readable directory: nginx could not serve static files")
        text, found = _UPSTREAM.subn(lambda m: f"{m.group(1)}127.0.0.1:{upstream_port}", text)
        if not found:
            raise ValueError(f"the config never names the upstream {UPSTREAM}, so it cannot reach the test server")
        text = _LISTEN.sub(self._listen, text)
        text = _STATIC.sub(lambda m: f"{m.group(1)}{static_dir}/", text)
        text = _SNIPPETS.sub(lambda m: f"{m.group(1)}{self.snippets_dir}/", text)
        text = _ACCESS_LOG.sub(lambda m: f"{m.group(1)}{self.dir}/", text)
        for shipped, local in replacements.items():
            text = text.replace(shipped, local)
        return text

    def _listen(self, match: re.Match) -> str:
        shipped = match.group(2)
        if shipped not in ("80", "443"):
            raise ValueError(f"listen {shipped}: only `listen 80` and `listen 443 ...` are mapped to test ports")
        port = self.ports.setdefault(int(shipped), free_port())
        return f"{match.group(1)}127.0.0.1:{port}{match.group(3)}"


@contextlib.contextmanager
def subpath_stack(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Gunicorn, Nginx]]:
    """gunicorn (trusting one proxy hop) behind nginx/photonix-subpath.conf, serving /gallery/."""
    with Gunicorn({**env, "PHOTONIX_TRUSTED_PROXIES": "1"}, tmp_path / "gunicorn.log") as app, \
            Nginx(SUBPATH_CONF, app.port, tmp_path) as proxy:
        yield app, proxy
