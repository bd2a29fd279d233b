"""Config: every problem listed at once, each with a hint; dev secret persisted; types and ranges."""

import os
import stat

import pytest

from config import VARIABLES, ConfigError, load_config
from tests.conftest import JWT_SECRET


def test_defaults(env):
    config = load_config(env)
    assert config.workers == 1 and config.bind == "127.0.0.1:12080"
    assert config.trusted_proxies == 0 and config.cookie_secure == "auto"
    assert config.limiter_storage_uri == "memory://"
    assert config.sse_heartbeat_seconds == 15 and config.rate_limit == "3000/minute"


def test_every_problem_is_listed_at_once(tmp_path):
    env = {
        "PHOTONIX_PHOTOS_DIR": str(tmp_path / "missing"),
        "PHOTONIX_DATA_DIR": str(tmp_path / "data"),
        "PHOTONIX_JWT_SECRET": "short",
        "PHOTONIX_ADMIN_SECRET": "tiny",
        "PHOTONIX_WORKERS": "4",
        "PHOTONIX_THUMB_WIDTH": "wide",
        "PHOTONIX_COOKIE_SECURE": "maybe",
        "PHOTONIX_RATE_LIMIT": "lots",
        "PHOTONIX_DATABASE_URL": "mysql://x",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    text = str(caught.value)
    for name in ("PHOTOS_DIR", "JWT_SECRET", "ADMIN_SECRET", "WORKERS", "THUMB_WIDTH",
                 "COOKIE_SECURE", "RATE_LIMIT", "DATABASE_URL"):
        assert f"PHOTONIX_{name}:" in text, name
    assert len(caught.value.problems) == 8
    assert "PHOTONIX_REDIS_URL" in text  # the hint names the fix for >1 worker


@pytest.mark.parametrize("secret", [
    "change-me-change-me-change-me-change-me",
    "your-jwt-secret-goes-here-0123456789abcdef",
    "a" * 40,
    "abababababababababababababababababab",
])
def test_placeholder_jwt_secrets_are_refused(env, secret):
    with pytest.raises(ConfigError, match="placeholder"):
        load_config({**env, "PHOTONIX_JWT_SECRET": secret})


def test_missing_jwt_secret_names_the_dev_switch(env):
    env = {k: v for k, v in env.items() if k != "PHOTONIX_JWT_SECRET"}
    with pytest.raises(ConfigError, match="PHOTONIX_DEV=1"):
        load_config(env)


def test_dev_secret_is_generated_once_and_kept_private(env, tmp_path):
    env = {k: v for k, v in env.items() if k != "PHOTONIX_JWT_SECRET"} | {"PHOTONIX_DEV": "1"}
    first = load_config(env).jwt_secret
    second = load_config(env).jwt_secret
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "dev-jwt-secret").st_mode)
    assert mode == 0o600


def test_more_workers_with_redis_are_fine(env):
    config = load_config({**env, "PHOTONIX_WORKERS": "4", "PHOTONIX_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert config.workers == 4 and config.limiter_storage_uri.startswith("redis://")


def test_unwritable_data_dir_is_a_problem(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="PHOTONIX_DATA_DIR"):
        load_config({**env, "PHOTONIX_DATA_DIR": str(blocker / "data")})


def test_public_url_is_normalised_and_checked(env):
    assert load_config({**env, "PHOTONIX_PUBLIC_URL": "https://p.example.com/g/"}).public_url == \
        "https://p.example.com/g"
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config({**env, "PHOTONIX_PUBLIC_URL": "photos.example.com"})


def test_secrets_are_not_in_repr(env):
    text = repr(load_config(env))
    assert JWT_SECRET not in text and env["PHOTONIX_ADMIN_SECRET"] not in text


def test_variable_table_matches_config_fields():
    from dataclasses import fields

    from config import Config

    names = {v.name.lower() for v in VARIABLES}
    assert names == {f.name for f in fields(Config)}


def test_data_dir_inside_the_photos_dir_must_be_hidden(env, photos_dir):
    with pytest.raises(ConfigError) as caught:
        load_config({**env, "PHOTONIX_DATA_DIR": str(photos_dir / "data")})
    assert "PHOTONIX_DATA_DIR" in str(caught.value) and "inside PHOTONIX_PHOTOS_DIR" in str(caught.value)
    assert load_config({**env, "PHOTONIX_DATA_DIR": str(photos_dir / ".photonix")}).data_dir.name == ".photonix"
