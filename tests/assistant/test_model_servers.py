"""A model server that stalls or answers wrongly is a one-line model error naming its URL, within
the timeouts from settings: exit 4, never a hang or an internal error (issue #14). The servers are
real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from langchain_core.messages import HumanMessage

from assistant.errors import ModelError
from assistant.models import build_chat_model

from .test_cli import assert_one_line_error, run_cli

RELEASE = threading.Event()


class Faulty(http.server.BaseHTTPRequestHandler):
    """Answers /<fault>/v1/chat/completions with that fault."""

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        fault = self.path.split("/")[1]
        if fault == "stall":  # accepts, reads the request, never answers
            RELEASE.wait(60)
            return
        if fault == "http500":
            return self._send(500, b'{"error": {"message": "boom"}}', "application/json")
        if fault == "garbage":
            return self._send(200, b"<html>this is not json{{", "application/json")
        if fault == "shape":
            return self._send(200, json.dumps({"hello": "world", "choices": "none"}).encode(), "application/json")
        if fault == "midstream":  # starts a stream, then stalls
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            RELEASE.wait(60)
            return
        self._send(404, b"{}", "application/json")

    def _send(self, status, body, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    RELEASE.set()
    httpd.shutdown()


@pytest.mark.parametrize("fault", ["stall", "midstream", "http500", "garbage", "shape"])
@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_every_server_fault_is_a_model_error_naming_the_url(server, fault, how):
    url = f"{server}/{fault}/v1"
    model = build_chat_model(f"openai:m@{url}", connect_timeout=2, read_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        if how == "invoke":
            model.invoke([HumanMessage("hi")])
        else:
            for _ in model.stream([HumanMessage("hi")]):
                pass
    assert url in str(err.value) and err.value.exit_code == 4
    assert time.monotonic() - started < 15  # the read timeout, not the client's ~10 min default


def test_ask_against_a_stalled_server_exits_4_naming_it(server, tmp_path):
    url = f"{server}/stall/v1"
    code, _, err = run_cli("ask", "--model", f"openai:m@{url}", "What is the capital of Peru?",
                           env={"ASSISTANT_READ_TIMEOUT": "1.5", "ASSISTANT_CONNECT_TIMEOUT": "2"}, timeout=120)
    assert code == 4, err
    assert_one_line_error(code, err, url)
