"""bcrypt password rules: 8-72 bytes, no truncation, malformed attempts simply fail."""

import pytest

from errors import ValidationFailed
from services.auth.passwords import hash_password, verify_password


@pytest.fixture(scope="module")
def stored():
    return hash_password("correct horse")


def test_right_and_wrong(stored):
    assert stored.startswith("$2b$12$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)


@pytest.mark.parametrize("attempt", [None, 12, "", "x" * 73, ["correct horse"], "é" * 40])
def test_malformed_attempts_fail_like_wrong_ones(stored, attempt):
    assert verify_password(attempt, stored) is False


def test_no_stored_hash_never_matches():
    assert verify_password("anything at all", None) is False


@pytest.mark.parametrize("password, message", [
    ("short", "at least 8"), ("x" * 73, "at most 72"), ("é" * 37, "at most 72"), (None, "string")])
def test_new_password_rules(password, message):
    with pytest.raises(ValidationFailed, match=message) as caught:
        hash_password(password)
    assert caught.value.extra["field"] == "newPassword"


def test_72_bytes_is_accepted_and_not_truncated():
    stored = hash_password("a" * 72)
    assert verify_password("a" * 72, stored)
    assert not verify_password("a" * 71, stored)
