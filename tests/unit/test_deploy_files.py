"""deploy/: the example env file names only real variables and refuses to start until its secrets are
replaced; the systemd unit runs `photonix serve` as an unprivileged, sandboxed user that can write its data.
nginx/: every location that proxies to the app sets X-Forwarded-Prefix itself, so a client's never passes."""

from __future__ import annotations

import configparser
import re
import secrets
from pathlib import Path

import pytest

from config import PREFIX, VARIABLES, ConfigError, load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_EXAMPLE = DEPLOY / "photonix.env.example"
UNIT = DEPLOY / "photonix.service"
NGINX = DEPLOY.parent / "nginx"
KNOWN = {PREFIX + v.name for v in VARIABLES}
SECRETS = ("PHOTONIX_JWT_SECRET", "PHOTONIX_ADMIN_SECRET")
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(\S*)$")
_COMMENTED_ASSIGNMENT = re.compile(r"^#\s*([A-Z][A-Z0-9_]*)=")
_LOCATION = re.compile(r"^\s*location\s+(?:=\s+)?(\S+)\s*\{(.*?)^\s*\}", re.MULTILINE | re.DOTALL)
_PREFIX_HEADER = re.compile(r"^\s*proxy_set_header\s+X-Forwarded-Prefix\s+(\S+);", re.MULTILINE | re.IGNORECASE)


def _example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        # No quotes, spaces or trailing comments: systemd and `sh` then read the same values.
        assert match and not re.search(r"['\"#]", match.group(2)), f"line {number} is not KEY=value: {line!r}"
        assert match.group(1) not in values, f"line {number}: {match.group(1)} set twice"
        values[match.group(1)] = match.group(2)
    return values


def _with_dirs(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    (tmp_path / "photos").mkdir(exist_ok=True)
    return env | {"PHOTONIX_PHOTOS_DIR": str(tmp_path / "photos"), "PHOTONIX_DATA_DIR": str(tmp_path / "data")}


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_env_example_names_only_known_variables():
    values = _example()
    commented = {m.group(1) for line in ENV_EXAMPLE.read_text().splitlines()
                 if (m := _COMMENTED_ASSIGNMENT.match(line))}
    assert set(values) | commented <= KNOWN, sorted((set(values) | commented) - KNOWN)
    for name in ("PHOTOS_DIR", "DATA_DIR", "JWT_SECRET", "ADMIN_SECRET", "PUBLIC_URL", "TRUSTED_PROXIES",
                 "COOKIE_SECURE", "BIND", "WORKERS"):
        assert PREFIX + name in values, name
    assert {"PHOTONIX_DATABASE_URL", "PHOTONIX_REDIS_URL"} <= commented
    assert values["PHOTONIX_DATA_DIR"] == "/var/lib/photonix"
    assert values["PHOTONIX_TRUSTED_PROXIES"] == "1"
    assert values["PHOTONIX_BIND"].startswith("127.0.0.1:")


def test_env_example_as_is_refuses_to_start_naming_the_secrets(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(_with_dirs(_example(), tmp_path))
    # The placeholder secrets are the only problems: everything else in the example is valid as written.
    assert sorted(p.split(":", 1)[0] for p in caught.value.problems) == sorted(SECRETS)
    assert all("placeholder" in problem for problem in caught.value.problems)


def test_env_example_with_real_secrets_loads(tmp_path):
    env = _with_dirs(_example(), tmp_path) | {name: secrets.token_urlsafe(48) for name in SECRETS}
    config = load_config(env)
    assert config.trusted_proxies == 1 and config.workers == 1 and config.redis_url is None
    assert config.public_url is not None and config.public_url.startswith("https://")
    assert config.database_url.startswith("sqlite:///")


def test_unit_runs_photonix_serve_as_a_sandboxed_user():
    service = _unit()["Service"]
    assert service["User"] and service["User"] != "root"
    assert service["EnvironmentFile"].lstrip("-") == "/etc/photonix/photonix.env"
    assert re.fullmatch(r"\S*/photonix serve", service["ExecStart"])
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["Restart"] == "on-failure"
    assert service["ExecReload"].endswith("-HUP $MAINPID")
    assert service["CapabilityBoundingSet"] == ""


def test_unit_can_write_the_example_data_dir():
    writable = [Path(p.lstrip("-+")) for p in _unit()["Service"]["ReadWritePaths"].split()]
    data_dir = Path(_example()["PHOTONIX_DATA_DIR"])
    photos_dir = Path(_example()["PHOTONIX_PHOTOS_DIR"])
    for needed in (data_dir, photos_dir):  # the download center saves into the photos folder
        assert any(needed == p or p in needed.parents for p in writable), needed


def test_unit_stops_after_gunicorns_graceful_timeout():
    gunicorn_conf = (DEPLOY.parent / "gunicorn.conf.py").read_text()
    graceful = int(re.search(r"^graceful_timeout\s*=\s*(\d+)", gunicorn_conf, re.M).group(1))
    stop = _unit()["Service"]["TimeoutStopSec"]
    assert int(stop.rstrip("s")) > graceful


def _directives(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


@pytest.mark.parametrize("conf", sorted(NGINX.glob("*.conf")), ids=lambda p: p.name)
def test_every_proxied_location_sets_the_prefix_itself(conf):
    locations = _LOCATION.findall(_directives(conf.read_text()))
    proxied = [(path, body) for path, body in locations if "proxy_pass" in body]
    assert proxied, f"{conf.name} proxies nothing"
    for path, body in proxied:
        values = _PREFIX_HEADER.findall(body)
        assert len(values) == 1, f"{conf.name} location {path}: X-Forwarded-Prefix set {len(values)} times"
        value = values[0].strip('"')
        # "" at the root (nginx then sends none); a sub-path location announces the prefix it strips.
        assert value == "" or (value.startswith("/") and path.startswith(value)), (conf.name, path, value)


def test_the_proxy_snippets_leave_the_prefix_to_each_location():
    for snippet in sorted((NGINX / "snippets").glob("*.conf")):
        assert not _PREFIX_HEADER.search(_directives(snippet.read_text())), snippet.name


def test_the_http_config_takes_port_80_from_debians_default_site():
    text = _directives((NGINX / "photonix-http.conf").read_text())
    listens = re.findall(r"^\s*listen\s+([^;]+);", text, re.MULTILINE)
    assert listens and all("default_server" in listen.split() for listen in listens), listens
    assert "sites-enabled/default" in (NGINX / "photonix-http.conf").read_text()
