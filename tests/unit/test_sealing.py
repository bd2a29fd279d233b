"""services/sealing.py: a sealed text opens only with the same secret and purpose, and never when altered."""

from __future__ import annotations

from services import sealing

KEYS = sealing.Purpose(b"test salt", b"test keys", b"a test key")
OTHER = sealing.Purpose(b"test salt", b"test other", b"a test key")


def test_a_sealed_text_opens_with_its_secret_and_purpose_only():
    sealed = KEYS.seal("jwt secret", "sk-ünïcode-key")
    assert "sk-" not in sealed and KEYS.seal("jwt secret", "sk-ünïcode-key") != sealed  # a fresh nonce each time
    assert KEYS.unseal("jwt secret", sealed) == "sk-ünïcode-key"
    assert KEYS.unseal("another secret", sealed) is None
    assert OTHER.unseal("jwt secret", sealed) is None


def test_an_altered_or_garbled_text_does_not_open():
    sealed = KEYS.seal("jwt secret", "key")
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    for bad in (flipped, sealed[:-4], "", "not base64 at all!", "é"):
        assert KEYS.unseal("jwt secret", bad) is None
