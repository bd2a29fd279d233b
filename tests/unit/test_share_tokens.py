"""Share-link tokens (issue 22, first brick): random enough, never stored in plain text, found by a keyed hash,
and kept sealed so the admin's list can show the link again."""

from __future__ import annotations

import base64

import pytest

from services.shares import tokens

SECRET = "a JWT secret of this server, long enough to be real: 7f3c9a0e"
OTHER = "the JWT secret of another server, also long enough: 0b1d2e4f"


def test_a_token_carries_192_random_bits_in_url_safe_text():
    made = {tokens.new_token() for _ in range(1000)}
    assert len(made) == 1000
    for token in list(made)[:50]:
        assert tokens.well_formed(token) and len(base64.urlsafe_b64decode(token)) * 8 == 192


@pytest.mark.parametrize("text", ["", "short", "x" * 31, "x" * 33, "a" * 31 + "/", "a" * 31 + "=", "ａ" * 32,
                                  "a" * 31 + "\x00", None, 42])
def test_anything_that_new_token_could_not_have_made_is_refused(text):
    assert not tokens.well_formed(text)


def test_the_lookup_hash_is_keyed_by_the_servers_secret():
    token = tokens.new_token()
    found = tokens.lookup_hash(SECRET, token)
    assert found == tokens.lookup_hash(SECRET, token) and len(found) == 64 and token not in found
    assert found != tokens.lookup_hash(OTHER, token)  # a copy of the database alone cannot test guesses
    assert tokens.same_hash(found, tokens.lookup_hash(SECRET, token))
    assert not tokens.same_hash(found, tokens.lookup_hash(SECRET, tokens.new_token()))


def test_a_sealed_token_opens_only_with_the_same_secret_and_unaltered():
    token = tokens.new_token()
    sealed = tokens.seal(SECRET, token)
    assert token not in sealed and sealed != tokens.seal(SECRET, token)  # a fresh nonce each time
    assert tokens.unseal(SECRET, sealed) == token
    assert tokens.unseal(OTHER, sealed) is None
    raw = bytearray(base64.urlsafe_b64decode(sealed))
    raw[-1] ^= 1
    assert tokens.unseal(SECRET, base64.urlsafe_b64encode(bytes(raw)).decode()) is None
    for junk in ("", "not base64 at all!", "AAAA", "é"):
        assert tokens.unseal(SECRET, junk) is None
