"""A tiny OpenAI-compatible chat server on 127.0.0.1 whose replies a test scripts.

The real `langchain-openai` client talks to it over real HTTP (streamed or not), so the tool loop
is tested end to end with nothing of ours patched. Each request's JSON body is kept in `requests`
so a test can check what reached "the model" (tool results, refusals, errors).

    with ScriptedOpenAI([call("convert_units", value=26.2, from_unit="miles", to_unit="km"),
                         say("26.2 miles is 42.16 km.")]) as server:
        Assistant(model=f"openai:scripted@{server.url}")

A script item may also be a function of the request body returning an item (a model that never stops).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any]


def say(text: str) -> Reply:
    return {"content": text}


def call(tool_name: str, /, raw_arguments: str | None = None, call_id: str | None = None, **arguments: Any) -> Reply:
    """A reply calling one tool; `raw_arguments` sends those exact characters (malformed JSON, say)."""
    return {"tool_calls": [{"name": tool_name, "arguments": raw_arguments if raw_arguments is not None else json.dumps(arguments),
                            "id": call_id}]}


class ScriptedOpenAI:
    def __init__(self, script: Sequence[Reply | Callable[[dict], Reply]], *, refuse_tools: bool = False) -> None:
        self.script = list(script)
        self.refuse_tools = refuse_tools  # answer a request offering tools with vLLM's HTTP 400
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if owner.refuse_tools and body.get("tools"):
                    owner.requests.append(body)
                    error = {"message": '"auto" tool choice requires --enable-auto-tool-choice and '
                                        "--tool-call-parser to be set", "type": "BadRequestError", "code": 400}
                    self._send(400, "application/json", json.dumps({"error": error}).encode())
                    return
                reply = owner._next(body)
                if body.get("stream"):
                    self._stream(reply)
                else:
                    self._send(200, "application/json", json.dumps(_completion(reply)).encode())

            def _send(self, status: int, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                chunks = [json.dumps(chunk) for chunk in _chunks(reply)]
                data = "".join(f"data: {c}\n\n" for c in chunks) + "data: [DONE]\n\n"
                self._send(200, "text/event-stream", data.encode())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _next(self, body: dict) -> Reply:
        with self._lock:
            self.requests.append(body)
            if not self.script:
                return say("(script exhausted)")
            item = self.script[0] if callable(self.script[0]) else self.script.pop(0)
        return item(body) if callable(item) else item

    def tool_messages(self, request: int) -> list[dict]:
        """The tool results the `request`-th request carried (0-based)."""
        return [m for m in self.requests[request]["messages"] if m.get("role") == "tool"]

    def __enter__(self) -> "ScriptedOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _tool_calls(reply: Reply, streaming: bool) -> list[dict]:
    calls = []
    for index, item in enumerate(reply.get("tool_calls", [])):
        entry = {"id": item["id"] or f"call_{index}_{item['name']}", "type": "function",
                 "function": {"name": item["name"], "arguments": item["arguments"]}}
        calls.append({"index": index, **entry} if streaming else entry)
    return calls


def _completion(reply: Reply) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if reply.get("tool_calls"):
        message["tool_calls"] = _tool_calls(reply, streaming=False)
    return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _chunks(reply: Reply) -> list[dict]:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    if reply.get("content"):
        words = reply["content"].split(" ")
        out += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    if reply.get("tool_calls"):
        out.append(chunk({"tool_calls": _tool_calls(reply, streaming=True)}))
    out.append(chunk({}, "tool_calls" if reply.get("tool_calls") else "stop"))
    out.append({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
    return out
