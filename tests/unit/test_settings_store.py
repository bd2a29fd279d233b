"""The settings store: auth state defaults, writes, and the epoch bump (SQLite and PostgreSQL)."""

from services import settings


def test_defaults_are_an_open_gallery(app):
    state = settings.auth_state()
    assert not state.password_enabled and not state.public_access and state.anonymous_reads
    assert state.epoch == 0 and state.site_title == "Photonix"
    assert len(state.system_id) == 32
    assert settings.auth_state().system_id == state.system_id  # stable


def test_write_and_bump_epoch(app):
    settings.write_settings({settings.PASSWORD_HASH: "$2b$12$x", settings.PASSWORD_ENABLED: "1"}, bump_epoch=True)
    state = settings.auth_state()
    assert state.password_enabled and state.password_hash == "$2b$12$x" and state.epoch == 1
    assert not state.anonymous_reads
    settings.write_settings({settings.ALLOW_PUBLIC_ACCESS: "1"}, bump_epoch=False)
    settings.write_settings({}, bump_epoch=True)
    state = settings.auth_state()
    assert state.epoch == 2 and state.public_access and state.anonymous_reads


def test_enabled_without_a_hash_is_not_enabled(app):
    settings.write_settings({settings.PASSWORD_ENABLED: "1"}, bump_epoch=False)
    assert not settings.auth_state().password_enabled
