"""Share links in the database (issue 22, second brick): made with safe defaults, found only by their token,
changed, revoked and counted, with the token never stored in plain text (both databases)."""

from __future__ import annotations

import pytest

from errors import ValidationFailed
from models import Share, database
from services.shares import store, tokens

SECRET = "a JWT secret of this server, long enough to be real: 7f3c9a0e"
NOW = 1_800_000_000.0
DAY = 86400


def make(**fields):
    return store.create(SECRET, "trip", "album", fields, allow_never=False, now=NOW)


def test_a_new_link_expires_in_30_days_and_is_found_by_its_token_only(db):
    made = make(title="Summer")
    share = store.find(SECRET, made.token)
    assert share.id == made.share.id and share.path == "trip" and share.title == "Summer"
    assert share.expires_at == NOW + 30 * DAY and not share.allow_download and share.password_hash is None
    assert store.state(share, NOW) == store.ACTIVE
    assert store.find(SECRET, tokens.new_token()) is None
    for junk in ("", "x" * 32 + "y", made.token[:-1], made.token.upper() if made.token.upper() != made.token else "",
                 "../../etc/passwd"):
        assert store.find(SECRET, junk) is None
    assert store.find("another server's secret, as long as the first one", made.token) is None


def test_the_token_is_never_stored_in_plain_text(db):
    made = make(title="t", password="a good password", passwordHint="the usual")
    for table in ("share",):
        rows = database.execute_sql(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 (a constant)
        assert rows and not any(made.token in str(value) for row in rows for value in row)
    assert store.token_of(SECRET, Share.get_by_id(made.share.id)) == made.token


def test_expiry_never_only_when_allowed_and_bounded_days(db):
    with pytest.raises(ValidationFailed) as refused:
        make(expiresInDays=None)
    assert refused.value.extra["field"] == "expiresInDays"
    never = store.create(SECRET, "", "album", {"expiresInDays": None}, allow_never=True, now=NOW)
    assert never.share.expires_at is None and store.state(never.share, NOW + 100 * 365 * DAY) == store.ACTIVE
    for bad in (0, -1, store.MAX_DAYS + 1, 1.5, "7", True):
        with pytest.raises(ValidationFailed):
            make(expiresInDays=bad)
    short = make(expiresInDays=1)
    assert store.state(short.share, NOW + DAY - 1) == store.ACTIVE
    assert store.state(short.share, NOW + DAY) == store.EXPIRED


def test_password_hint_title_and_download_are_checked_and_changed(db):
    made = make(password="a good password", passwordHint="the usual", allowDownload=True)
    share = Share.get_by_id(made.share.id)
    assert share.password_hash.startswith("$2") and share.password_hint == "the usual" and share.allow_download
    for bad in ({"password": "short"}, {"passwordHint": "x" * 201}, {"title": "a\nb"}, {"allowDownload": "yes"},
                {"views": 5}, {}):
        with pytest.raises(ValidationFailed):
            store.change(share.id, bad, allow_never=False, now=NOW)
    changed = store.change(share.id, {"password": None, "title": "New", "expiresInDays": 7}, allow_never=False,
                           now=NOW + DAY)
    assert changed.password_hash is None and changed.title == "New" and changed.expires_at == NOW + 8 * DAY
    assert changed.password_hint == "the usual"  # not sent: kept


def test_revoking_is_immediate_kept_in_the_list_and_idempotent(db):
    made = make()
    assert store.revoke(made.share.id, now=NOW + 5)
    assert store.revoke(made.share.id, now=NOW + 9)
    share = store.find(SECRET, made.token)
    assert store.state(share, NOW + 6) == store.REVOKED and share.revoked_at == NOW + 5
    assert not store.revoke(made.share.id + 1000)


def test_views_are_counted(db):
    made = make()
    store.count_view(made.share.id, now=NOW + 1)
    store.count_view(made.share.id, now=NOW + 2)
    share = Share.get_by_id(made.share.id)
    assert (share.views, share.last_viewed_at) == (2, NOW + 2)
