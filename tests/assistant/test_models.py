"""Model specs and the server backends, against a real OpenAI-compatible HTTP server run in-process."""

from __future__ import annotations

import asyncio
import importlib.machinery
import json
import socket
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.errors import ConfigError, ModelServerUnreachable, ModelUnavailable, UnknownModelSpec
from assistant.models import (
    ModelSpec,
    build_chat_model,
    model_errors,
    parse_model_spec,
    translate_model_error,
)

# --- spec parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bundled", ModelSpec("bundled")),
        ("  Bundled ", ModelSpec("bundled")),
        ("hf:./models/tiny", ModelSpec("hf", "./models/tiny")),
        ("hf:HuggingFaceTB/SmolLM2-360M-Instruct", ModelSpec("hf", "HuggingFaceTB/SmolLM2-360M-Instruct")),
        ("HF:C:\\models\\tiny", ModelSpec("hf", "C:\\models\\tiny")),
        ("openai:gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("openai:qwen2.5@http://127.0.0.1:8000/v1", ModelSpec("openai", "qwen2.5", "http://127.0.0.1:8000/v1")),
        ("ollama:llama3.2:1b", ModelSpec("ollama", "llama3.2:1b")),
        ("llamacpp:/models/x.Q4_K_M.gguf", ModelSpec("llamacpp", "/models/x.Q4_K_M.gguf")),
    ],
)
def test_parse_model_spec(text, expected):
    spec = parse_model_spec(text)
    assert spec == expected
    assert parse_model_spec(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty model spec"),
        ("   ", "empty model spec"),
        ("gpt-4o", "unknown model spec 'gpt-4o'"),
        ("vllm:foo", "unknown model spec 'vllm:foo'"),
        ("bundled:x", "unknown model spec"),
        ("hf:", "names no model; write hf:<path-or-id>"),
        ("ollama:  ", "names no model; write ollama:<model>"),
        ("openai:@http://127.0.0.1:8000/v1", "names no model"),
        ("openai:m@127.0.0.1:8000", "bad base URL"),
    ],
)
def test_parse_model_spec_errors(text, fragment):
    with pytest.raises(UnknownModelSpec) as err:
        parse_model_spec(text)
    assert fragment in str(err.value)
    if "unknown" in fragment or "empty" in fragment:
        assert "openai:<model>[@<base-url>]" in str(err.value) and "llamacpp:<gguf-path>" in str(err.value)


def test_building_the_bundled_model_loads_nothing():
    chat = build_chat_model("bundled", max_new_tokens=16)
    assert isinstance(chat, BaseChatModel)
    assert not chat.loaded and chat.max_new_tokens == 16 and chat.temperature == 0.0


# --- hf: -------------------------------------------------------------------------------------------


def test_hf_errors(tmp_path):
    with pytest.raises(ModelUnavailable, match="no model directory or .gguf file at"):
        build_chat_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelUnavailable, match="has no config.json"):
        build_chat_model(f"hf:{tmp_path}")
    with pytest.raises(ModelUnavailable, match="not a local directory nor in the Hugging Face cache.*offline"):
        build_chat_model("hf:no-such-org/no-such-model")


def test_hf_local_directory_is_lazy(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    chat = build_chat_model(f"hf:{tmp_path}")
    assert not chat.loaded and chat.model_name == str(tmp_path)


# --- openai: against a real HTTP server -----------------------------------------------------------


class _OpenAIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one response per connection, ended by close (fine for SSE)
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 (http.server's naming)
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        last = body["messages"][-1]["content"]
        words = ["You", " said:", *(f" {w}" for w in last.split())]
        usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 7 + len(words)}
        head = {"id": "chatcmpl-1", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            reply = {
                **head,
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "".join(words)}, "finish_reason": "stop"}
                ],
                "usage": usage,
            }
            self._send(200, "application/json", json.dumps(reply).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {**head, "object": "chat.completion.chunk"}
        events = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": w}}]} for w in words]
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if body.get("stream_options", {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def openai_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def requests_seen():
    _OpenAIHandler.requests = []
    return _OpenAIHandler.requests


def test_openai_invoke(openai_server, requests_seen, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chat = build_chat_model(f"openai:tiny@{openai_server}", max_new_tokens=20)
    reply = chat.invoke([SystemMessage("Be brief."), HumanMessage("hello there")])
    assert reply.content == "You said: hello there"
    assert reply.usage_metadata["output_tokens"] == 4
    body = requests_seen[-1]
    assert body["model"] == "tiny" and body["temperature"] == 0.0
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 20
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_openai_stream(openai_server, requests_seen):
    chat = build_chat_model(f"openai:tiny@{openai_server}")
    chunks = list(chat.stream([HumanMessage("one two three")]))
    texts = [c.content for c in chunks if c.content]
    assert texts == ["You", " said:", " one", " two", " three"]
    assert requests_seen[-1]["stream"] is True
    assert sum((c for c in chunks[1:]), chunks[0]).usage_metadata["output_tokens"] == 5


def test_openai_base_url_from_environment(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert build_chat_model("openai:tiny").invoke("hi").content == "You said: hi"


def test_openai_needs_a_key_or_a_url(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_chat_model("openai:gpt-4o-mini")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_openai_server_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    chat = build_chat_model(f"openai:tiny@{url}")
    expected = f"cannot reach the model server at {url}: connection refused; start it or pick another --model"
    for call in (lambda: chat.invoke("hi"), lambda: list(chat.stream("hi")), lambda: asyncio.run(chat.ainvoke("hi"))):
        with pytest.raises(ModelServerUnreachable) as err:
            call()
        assert str(err.value) == expected
        assert "\n" not in str(err.value)


# --- error translation -----------------------------------------------------------------------------


def test_translate_model_error():
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    err = translate_model_error(refused, "http://h:1/v1")
    assert isinstance(err, ModelServerUnreachable)
    assert str(err) == (
        "cannot reach the model server at http://h:1/v1: connection refused; start it or pick another --model"
    )
    assert "timed out" in str(translate_model_error(httpx.ConnectTimeout("slow"), "http://h:1"))
    assert translate_model_error(ValueError("not a server problem")) is None
    with pytest.raises(ModelServerUnreachable, match="http://h:2"), model_errors("http://h:2"):
        raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(KeyError), model_errors("http://h:2"):
        raise KeyError("untouched")


# --- optional extras -------------------------------------------------------------------------------


def test_missing_extras_name_the_extra(monkeypatch, tmp_path):
    for module in ("langchain_openai", "langchain_ollama", "llama_cpp"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cases = {  # langchain-openai is a core dependency, not an extra
        "ollama:llama3.2": "throughline[ollama]",
        f"llamacpp:{tmp_path / 'x.gguf'}": "throughline[llamacpp]",
    }
    for spec, extra in cases.items():
        with pytest.raises(ModelUnavailable) as err:
            build_chat_model(spec)
        assert f"pip install '{extra}'" in str(err.value)


def _fake_module(monkeypatch, name, **attrs):
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)


class _RefusingOllama(BaseChatModel):
    """Stands in for langchain_ollama.ChatOllama: same fields, a server that is never there."""

    model: str
    base_url: str | None = None
    temperature: float | None = None
    num_predict: int | None = None

    @property
    def _llm_type(self):
        return "fake-ollama"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise httpx.ConnectError("[Errno 111] Connection refused") from ConnectionRefusedError(111, "refused")


_RefusingOllama.__name__ = "ChatOllama"


def test_ollama_uses_ollama_host_and_translates_errors(monkeypatch):
    _fake_module(monkeypatch, "langchain_ollama", ChatOllama=_RefusingOllama)
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:1")
    chat = build_chat_model("ollama:llama3.2", max_new_tokens=8)
    assert (chat.model, chat.base_url, chat.num_predict) == ("llama3.2", "http://127.0.0.1:1", 8)
    with pytest.raises(ModelServerUnreachable, match=r"at http://127\.0\.0\.1:1: connection refused"):
        chat.invoke("hi")


class _FakeLlama:
    def __init__(self, model_path, n_ctx, verbose):
        self.model_path = model_path
        self.calls = []

    def create_chat_completion(self, **kwargs):
        self.calls.append(kwargs)

        def parts():
            for word in ("Hello", " from", " llama"):
                yield {"choices": [{"delta": {"content": word}, "finish_reason": None}]}
            yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}

        return parts()


def test_llamacpp_streams_through_llama_cpp(monkeypatch, tmp_path):
    _fake_module(monkeypatch, "llama_cpp", Llama=_FakeLlama)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ModelUnavailable, match="no GGUF file at"):
        build_chat_model(f"llamacpp:{tmp_path / 'missing.gguf'}")
    chat = build_chat_model(f"llamacpp:{gguf}", max_new_tokens=9)
    chunks = list(chat.stream([SystemMessage("s"), HumanMessage("hi")], stop=["END"]))
    assert [c.content for c in chunks if c.content] == ["Hello", " from", " llama"]
    call = chat.ensure_loaded().calls[-1]
    assert call["max_tokens"] == 9 and call["stop"] == ["END"] and call["stream"] is True
    assert call["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    assert chat.invoke("hi").content == "Hello from llama"

