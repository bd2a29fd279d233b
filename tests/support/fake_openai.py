"""A real OpenAI-compatible HTTP server on loopback for the AI caption tests: `POST /v1/chat/completions`.

It checks each request as the chat completions API documents it (JSON body with `model` and `messages`; one user
message whose content holds a `text` part and an `image_url` part; the image a base64 `data:image/jpeg` URI that
decodes to a JPEG of at most 1024 px with no EXIF, XMP or ICC data; a Bearer key when one is expected) and answers
in the documented shapes: a `chat.completion` object, or with `"stream": true` `data: {chat.completion.chunk}`
events ending with `data: [DONE]`. A request that breaks a rule is answered 400 with an OpenAI error body and
recorded in `problems`, so a test sees exactly what was wrong.

Modes: "ok", "fail" (500 with an error body), "huge" (an answer far larger than any caption), "hold" (the answer
waits for `release`, which the test sets), "redirect" (307 to `redirect_to`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

PATH = "/v1/chat/completions"
DATA_URI = "data:image/jpeg;base64,"
HANGUP_WAIT_S = 30  # a bound for a failing test only: a passing one is woken by the hangup itself


class FakeOpenAI:
    def __init__(self, host: str = "127.0.0.1"):
        self.mode = "ok"
        self.caption = "A small red square on a plain background."
        self.pieces = ["A small ", "red square", " on a plain", " background."]
        self.model = "vision-test"
        self.api_key: str | None = None
        self.redirect_to = ""
        self.requests: list[dict] = []  # the JSON bodies received
        self.headers: list[dict[str, str]] = []
        self.problems: list[str] = []
        self.images: list[Image.Image] = []
        self.release = threading.Event()
        self.received = threading.Event()  # set once a request that follows the documented shape arrived
        self.first_piece_sent = threading.Event()
        self.stop_after_first = threading.Event()  # streaming: hold after the first piece until `release`
        self.wait_for_hangup = False  # streaming: after the first piece, wait until the client closes the connection
        self.client_gone = threading.Event()
        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.host, self.port = host, self.httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def check(self, headers: dict[str, str], raw: bytes) -> dict | None:
        """The request body when it follows the documented shape; else None, with the reasons in `problems`."""
        problems = []
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            problems.append("Content-Type is not application/json")
        expected_auth = f"Bearer {self.api_key}" if self.api_key else None
        if headers.get("authorization") != expected_auth:
            problems.append(f"Authorization is {headers.get('authorization')!r}")
        try:
            body = json.loads(raw)
        except ValueError:
            self.problems.append("the body is not JSON")
            return None
        if body.get("model") != self.model:
            problems.append(f"model is {body.get('model')!r}")
        if not isinstance(body.get("stream", False), bool):
            problems.append("stream is not a boolean")
        problems += self._check_messages(body.get("messages"))
        self.problems += problems
        return None if problems else body

    def _check_messages(self, messages: object) -> list[str]:
        if not (isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], dict)
                and messages[0].get("role") == "user" and isinstance(messages[0].get("content"), list)):
            return ["messages is not one user message with a list of content parts"]
        parts = messages[0]["content"]
        texts = [p for p in parts if isinstance(p, dict) and p.get("type") == "text"]
        images = [p for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]
        if len(texts) != 1 or not isinstance(texts[0].get("text"), str) or not texts[0]["text"].strip():
            return ["no single non-empty text part"]
        if len(images) != 1 or len(parts) != 2:
            return ["no single image_url part"]
        url = (images[0].get("image_url") or {}).get("url", "")
        if not url.startswith(DATA_URI):
            return ["the image is not a data:image/jpeg;base64 URI"]
        return self._check_jpeg(base64.b64decode(url[len(DATA_URI):], validate=True))

    def _check_jpeg(self, data: bytes) -> list[str]:
        image = Image.open(io.BytesIO(data))
        image.load()
        self.images.append(image)
        problems = []
        if image.format != "JPEG":
            problems.append(f"the image is {image.format}, not JPEG")
        if max(image.size) > 1024:
            problems.append(f"the image is {image.size}, over 1024 px")
        if b"Exif\x00\x00" in data or image.getexif() or "exif" in image.info:
            problems.append("the image carries EXIF")
        if b"http://ns.adobe.com/xap/1.0/" in data or "icc_profile" in image.info:
            problems.append("the image carries XMP or an ICC profile")
        return problems

    def completion(self) -> dict:
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000, "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": self.caption},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}

    def chunks(self, count: int = 0) -> Iterator[dict]:
        """The documented chunks: the role first, a chunk per piece (`count` copies of "word " instead when given),
        then an empty delta with the finish reason."""
        base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
                "model": self.model}
        yield base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        for piece in (["word "] * count if count else self.pieces):
            yield base | {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake.headers.append(headers)
        if self.path != PATH:
            fake.problems.append(f"POST to {self.path}")
            return self._json(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
        body = fake.check(headers, raw)
        if body is None:
            return self._json(400, {"error": {"message": "; ".join(fake.problems), "type": "invalid_request_error"}})
        fake.requests.append(body)
        fake.received.set()
        if fake.mode == "redirect":
            return self._send(307, b"", {"Location": fake.redirect_to})
        if fake.mode == "fail":
            return self._json(500, {"error": {"message": "The server had an error.", "type": "server_error"}})
        if fake.mode == "hold":
            fake.release.wait()
        if fake.mode == "huge" and body.get("stream"):
            return self._stream(fake, padding=4096, count=512)  # 2 MiB of chunks with a word of caption each
        if fake.mode == "huge":
            return self._json(200, fake.completion() | {"padding": "x" * (2 * 1024 * 1024)})
        if body.get("stream"):
            return self._stream(fake)
        return self._json(200, fake.completion())

    def _stream(self, fake: FakeOpenAI, padding: int = 0, count: int = 0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for number, chunk in enumerate(fake.chunks(count)):
                self._chunk(f"data: {json.dumps(chunk | ({'padding': 'x' * padding} if padding else {}))}\n\n".encode())
                if number == 1:
                    fake.first_piece_sent.set()
                    if fake.wait_for_hangup:
                        self._await_hangup(fake)
                        return
                    if fake.stop_after_first.is_set():
                        fake.release.wait()
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

    def _await_hangup(self, fake: FakeOpenAI) -> None:
        """The client sends nothing more on this connection: a read returns only when it closes it."""
        self.connection.settimeout(HANGUP_WAIT_S)
        with contextlib.suppress(OSError):
            if self.connection.recv(1) == b"":
                fake.client_gone.set()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)


@contextlib.contextmanager
def fake_openai(host: str = "127.0.0.1") -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(host)
    thread = threading.Thread(target=fake.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.httpd.shutdown()
        fake.httpd.server_close()
        thread.join()
