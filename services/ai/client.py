"""The OpenAI-compatible chat completions call (`POST <base>/v1/chat/completions`), plain and streamed.

Outbound HTTP goes through the download center's one client (services/downloads/fetch.py): the address guard
at connect time (private hosts only with allowPrivateHosts), no redirects, a wall-clock deadline and a cap on
the answer's bytes. Only AiUnavailable leaves this module; the API key is sent as a Bearer header and never
appears in an error or a log line. No Flask, no database.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from errors import AiUnavailable, DownloadFailed, FetchRefused, FetchTimeout, FetchTooLarge
from services.ai.settings import AiSettings
from services.downloads.addresses import DEFAULT_PORTS
from services.downloads.fetch import Fetcher, FetchPolicy
from services.logtext import escape

log = logging.getLogger("photonix.ai")

MAX_ANSWER_BYTES = 256 * 1024  # a caption is a few hundred bytes; a streamed one adds ~150 bytes per token
MAX_CAPTION_CHARS = 2000
MAX_TOKENS = 300
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Request:
    """One caption request: the effective prompt (with the language line) and the JPEG to describe."""

    prompt: str
    jpeg: bytes


def endpoint(base: str) -> str:
    """`<base>/v1/chat/completions`; a base that already ends in /v1 (https://api.openai.com/v1) gets no second."""
    base = base.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def payload(config: AiSettings, request: Request, stream: bool) -> dict:
    """The request body as the chat completions API documents it: one user message with the prompt and the
    image as a base64 data URI."""
    image = "data:image/jpeg;base64," + base64.b64encode(request.jpeg).decode("ascii")
    return {"model": config.model, "stream": stream, "max_tokens": MAX_TOKENS,
            "messages": [{"role": "user", "content": [{"type": "text", "text": request.prompt},
                                                      {"type": "image_url", "image_url": {"url": image}}]}]}


def complete(config: AiSettings, request: Request) -> str:
    """The caption from a plain (non-streamed) answer: choices[0].message.content."""
    opened, chunks = _post(config, request, stream=False)
    with opened:
        body = b"".join(chunks)
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise AiUnavailable("The AI server's answer is not a chat completion.", upstreamStatus=200) from None
    return _caption(content)


class Stream:
    """The caption's pieces as they arrive from a streamed answer (`data: {chunk}` lines, ending `data: [DONE]`):
    each choices[0].delta.content that is not empty, up to MAX_CAPTION_CHARS. Made by `stream()`, which has sent
    the request and checked the status already. `close()` ends the call, also when nothing was read."""

    def __init__(self, opened: contextlib.ExitStack, chunks: Iterator[bytes]):
        self._opened = opened
        self._pieces = self._parse(chunks)

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self._pieces
        finally:
            self.close()

    def close(self) -> None:
        self._pieces.close()
        self._opened.close()

    @staticmethod
    def _parse(chunks: Iterator[bytes]) -> Generator[str, None, None]:
        sent = 0
        for data in _sse_data(chunks):
            if data == "[DONE]":
                return
            piece = _delta(data)[: MAX_CAPTION_CHARS - sent]
            if piece:
                sent += len(piece)
                yield piece
                if sent >= MAX_CAPTION_CHARS:
                    return


def stream(config: AiSettings, request: Request) -> Stream:
    """Send the request with `stream: true`; a refusal, an unreachable server or an error status raises here."""
    return Stream(*_post(config, request, stream=True))


def _post(config: AiSettings, request: Request, stream: bool) -> tuple[contextlib.ExitStack, Iterator[bytes]]:
    """POST the request: (what closes the connection, the answer's chunks). Fetch errors become AiUnavailable,
    also those met while reading the chunks."""
    url = endpoint(config.url)
    policy = FetchPolicy(allow_private_hosts=config.allowPrivateHosts, allowed_ports=frozenset({_port(url)}),
                         connect_timeout_s=min(CONNECT_TIMEOUT_S, config.timeoutSeconds),
                         read_timeout_s=config.timeoutSeconds, total_timeout_s=config.timeoutSeconds, max_redirects=0)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if config.apiKey:
        headers["Authorization"] = f"Bearer {config.apiKey}"
    body = json.dumps(payload(config, request, stream)).encode()
    opened = contextlib.ExitStack()
    fetcher = opened.enter_context(Fetcher(policy))
    try:
        chunks = opened.enter_context(fetcher.post(url, body, MAX_ANSWER_BYTES, headers))
    except DownloadFailed as exc:
        opened.close()
        raise _unavailable(exc) from None
    return opened, _translated(chunks)


def _translated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except DownloadFailed as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: DownloadFailed) -> AiUnavailable:
    status = exc.extra.get("httpStatus")
    if isinstance(exc, FetchRefused):
        reason = f"the address is not allowed: {exc.message}"
    elif isinstance(exc, FetchTimeout):
        reason = "it was too slow"
    elif isinstance(exc, FetchTooLarge):
        reason = "its answer was too large"
    else:
        reason = exc.message
    log.warning("AI caption failed: %s", escape(reason))
    return AiUnavailable(f"The AI server could not describe this photo: {reason}", upstreamStatus=status)


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def _sse_data(chunks: Iterator[bytes]) -> Iterator[str]:
    """The `data:` field of each server-sent event (multi-line data joined by newlines)."""
    buffer = b""
    lines: list[str] = []
    for chunk in chunks:
        buffer += chunk
        while True:
            line, sep, rest = buffer.partition(b"\n")
            if not sep:
                break
            buffer = rest
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            if not text:
                if lines:
                    yield "\n".join(lines)
                    lines = []
            elif text.startswith("data:"):
                lines.append(text[5:].removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _delta(data: str) -> str:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise AiUnavailable("The AI server's stream holds something that is not JSON.", upstreamStatus=200) from None
    if isinstance(chunk, dict) and "error" in chunk:
        raise AiUnavailable("The AI server reported an error in its stream.", upstreamStatus=200)
    try:
        choices = chunk["choices"]
        content = choices[0]["delta"].get("content") if choices else None  # a usage-only chunk has none
    except (KeyError, IndexError, TypeError, AttributeError):
        raise AiUnavailable("The AI server's stream is not chat completion chunks.", upstreamStatus=200) from None
    return content if isinstance(content, str) else ""


def _caption(content: object) -> str:
    if not isinstance(content, str) or not content.strip():
        raise AiUnavailable("The AI server answered without a caption.", upstreamStatus=200)
    return content.strip()[:MAX_CAPTION_CHARS]
