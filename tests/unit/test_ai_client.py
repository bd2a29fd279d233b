"""The chat completions client against a real loopback server (tests/support/fake_openai.py): the answer shapes,
the SSE parsing, the deadline on a slow server, the cap on a huge one, and the prompt's language line."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from errors import AiUnavailable, ValidationFailed
from services.ai import captions, client
from services.ai.settings import AiSettings
from tests.support.fake_openai import fake_openai


def jpeg(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def fake():
    with fake_openai() as server:
        yield server


def settings_for(fake, **changes) -> AiSettings:
    values = {"enabled": True, "url": fake.base, "model": fake.model, "allowPrivateHosts": True,
              "timeoutSeconds": 5} | changes
    return AiSettings(**values)


def request() -> client.Request:
    return client.Request("Describe it.", jpeg())


@pytest.mark.parametrize("base, url", [("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
                                       ("http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1/chat/completions"),
                                       ("http://h:8000/v1/", "http://h:8000/v1/chat/completions"),
                                       ("http://h/llm", "http://h/llm/v1/chat/completions")])
def test_the_endpoint_is_the_base_plus_v1_chat_completions(base, url):
    assert client.endpoint(base) == url


def test_a_plain_answer_gives_the_message_content(fake):
    assert client.complete(settings_for(fake), request()) == fake.caption
    assert fake.problems == [] and fake.requests[0]["stream"] is False


def test_a_streamed_answer_gives_its_pieces_in_order(fake):
    assert list(client.stream(settings_for(fake), request())) == fake.pieces
    assert fake.problems == [] and fake.requests[0]["stream"] is True


def test_a_long_streamed_caption_stops_at_the_cap(fake):
    fake.pieces = ["word "] * 1000
    assert len("".join(client.stream(settings_for(fake), request()))) == client.MAX_CAPTION_CHARS


def test_sse_data_lines_are_read_across_chunk_boundaries_and_crlf():
    chunks = [b"data: {\"a\"", b": 1}\r\n\r\n: a comment\n\ndata: one\ndata: two\n", b"\ndata: [DONE]\n\n"]
    assert list(client._sse_data(iter(chunks))) == ['{"a": 1}', "one\ntwo", "[DONE]"]


def test_a_slow_server_hits_the_deadline(fake):
    fake.mode = "hold"  # answers only when released, after the assertion
    with pytest.raises(AiUnavailable) as caught:
        client.complete(settings_for(fake, timeoutSeconds=1), request())
    assert caught.value.extra["upstreamStatus"] is None and "too slow" in caught.value.message


def test_a_stream_that_stalls_mid_way_hits_the_deadline(fake):
    fake.stop_after_first.set()
    pieces = iter(client.stream(settings_for(fake, timeoutSeconds=1), request()))
    assert next(pieces) == fake.pieces[0]
    with pytest.raises(AiUnavailable, match="too slow"):
        next(pieces)


@pytest.mark.parametrize("stream", [False, True])
def test_a_huge_answer_is_cut_off_at_the_cap(fake, stream):
    fake.mode = "huge"
    with pytest.raises(AiUnavailable, match="too large"):
        if stream:
            list(client.stream(settings_for(fake), request()))
        else:
            client.complete(settings_for(fake), request())


def test_an_error_status_is_reported_with_the_status(fake):
    fake.mode = "fail"
    with pytest.raises(AiUnavailable) as caught:
        client.complete(settings_for(fake), request())
    assert caught.value.extra["upstreamStatus"] == 500 and caught.value.status == 502


def test_without_allow_private_hosts_the_guard_refuses_loopback_before_connecting(fake):
    with pytest.raises(AiUnavailable, match="not allowed"):
        client.complete(settings_for(fake, allowPrivateHosts=False), request())
    assert fake.headers == []


@pytest.mark.parametrize("language, line", [("", None), ("en", "Answer in English"),
                                            ("zh-cn", "Answer in Simplified Chinese"), ("zh-tw", "Traditional Chinese"),
                                            ("fr", "the language fr")])
def test_the_prompt_asks_for_the_language(language, line):
    prompt = captions.prompt_for(AiSettings(prompt="Describe."), language)
    assert prompt == "Describe." if line is None else (prompt.startswith("Describe.") and line in prompt)


@pytest.mark.parametrize("value", ["e", "english!", "en_US", 5, "zh-" + "x" * 9])
def test_bad_language_tags_are_refused(value):
    with pytest.raises(ValidationFailed):
        captions.checked_language(value)


def test_the_preview_jpeg_fits_1024_and_carries_no_metadata(tmp_path):
    source = tmp_path / "preview.webp"
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    Image.new("RGB", (2048, 1024), (10, 200, 10)).save(source, "WEBP", exif=exif.tobytes(), icc_profile=b"x" * 200)
    data = captions.preview_jpeg(source)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (1024, 512)
    assert not image.getexif() and "icc_profile" not in image.info and b"Exif" not in data
