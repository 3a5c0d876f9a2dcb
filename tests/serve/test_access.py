"""Access control and bad requests: 401, 403, 413, 400 with one-line reasons, never a traceback;
names that could escape the data dir are refused; no keys, no listening beyond loopback."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assistant.errors import ConfigError
from assistant.sessions import disk_name
from assistant.serve.config import hash_key, load_serve_config

_serving = runpy.run_path(str(Path(__file__).with_name("conftest.py")))
free_port, wait_ready = _serving["free_port"], _serving["wait_ready"]

CHAT = {"messages": [{"role": "user", "content": "hello"}]}


def _one_line_error(answer: httpx.Response) -> str:
    error = answer.json()["error"]
    assert "\n" not in error["message"] and "Traceback" not in answer.text
    return error["message"]


@pytest.fixture
def keyed(start_server):
    # alice's key as a hash in config.toml's [serve] table, bob's (two namespaces) from the environment
    running = start_server(table={"keys": {hash_key("alice-key"): "alice"}}, keys="bob-key=bob|shared")
    return running.url


def test_no_key_is_401(keyed):
    for answer in (httpx.post(f"{keyed}/v1/chat/completions", json=CHAT),
                   httpx.get(f"{keyed}/v1/memories", params={"q": "x"}),
                   httpx.post(f"{keyed}/v1/chat/completions", content=b"{not json")):
        assert answer.status_code == 401
        assert "API key" in _one_line_error(answer)
    wrong = httpx.get(f"{keyed}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.get(f"{keyed}/healthz").status_code == 200  # health checks stay open


def test_another_namespace_is_403(keyed):
    alice = {"Authorization": "Bearer alice-key"}
    answer = httpx.post(f"{keyed}/v1/chat/completions", json={**CHAT, "user": "bob"}, headers=alice)
    assert answer.status_code == 403
    assert "bob" in _one_line_error(answer)
    denied = httpx.get(f"{keyed}/v1/sessions", headers={**alice, "X-Throughline-Namespace": "shared"})
    assert denied.status_code == 403
    bob = {"Authorization": "Bearer bob-key"}
    assert httpx.get(f"{keyed}/v1/sessions", headers={**bob, "X-Throughline-Namespace": "shared"}).status_code == 200
    ok = httpx.post(f"{keyed}/v1/chat/completions", json={**CHAT, "user": "alice"}, headers=alice, timeout=60)
    assert ok.status_code == 200 and ok.json()["throughline"]["namespace"] == "alice"


def test_namespaces_never_leak_over_http(keyed):
    alice, bob = {"Authorization": "Bearer alice-key"}, {"Authorization": "Bearer bob-key"}
    made = httpx.post(f"{keyed}/v1/memories", json={"text": "alice's secret plan is Saturn"}, headers=alice, timeout=60)
    assert made.status_code == 201
    memory_id = made.json()["id"]
    assert httpx.get(f"{keyed}/v1/memories/{memory_id}", headers=alice).status_code == 200
    assert httpx.get(f"{keyed}/v1/memories/{memory_id}", headers=bob).status_code == 404
    found = httpx.get(f"{keyed}/v1/memories", params={"q": "secret plan Saturn"}, headers=bob, timeout=60).json()
    assert found["data"] == []


def test_oversized_body_is_413(start_server):
    url = start_server(max_body_bytes=2000).url
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    answer = httpx.post(f"{url}/v1/chat/completions", json=big)
    assert answer.status_code == 413
    assert "larger than 2000 bytes" in _one_line_error(answer)

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        yield b'{"messages": [{"role": "user", "content": "'
        yield b"y" * 5000
        yield b'"}]}'

    streamed = httpx.post(f"{url}/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


@pytest.mark.parametrize("payload, reason", [
    (b"{not json", "not valid JSON"),
    (b'{"messages": "hello"}', "messages"),
    (b'{"messages": [{"role": "system", "content": "be nice"}]}', "no user message"),
    (b'{"messages": [{"role": "user", "content": "   "}]}', "empty"),
])
def test_malformed_requests_are_400(start_server, payload, reason):
    url = start_server().url
    answer = httpx.post(f"{url}/v1/chat/completions", content=payload, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert reason in _one_line_error(answer)


@pytest.mark.parametrize("name", ["../../x", "..", "a/b", ".hidden", "x" * 65, "a\\b", "a..b"])
def test_session_names_that_could_escape_are_refused(start_server, tmp_path, name):
    url = start_server().url
    answer = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers={"X-Throughline-Session": name})
    assert answer.status_code == 400
    assert "session name" in _one_line_error(answer)
    escaped = httpx.get(f"{url}/v1/sessions/{name}")
    assert escaped.status_code in (400, 404)
    assert not list(tmp_path.rglob("x.json"))


def test_cors_is_off_unless_configured(start_server):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    closed = start_server().url
    answer = httpx.options(f"{closed}/v1/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    opened = start_server(table={"cors_origins": ["https://app.example"]}).url
    answer = httpx.options(f"{opened}/v1/chat/completions", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://app.example"


def test_no_keys_no_listening_beyond_loopback():
    with pytest.raises(ConfigError, match="without API keys"):
        load_serve_config(None, {}, host="0.0.0.0")
    assert load_serve_config(None, {"ASSISTANT_SERVE_KEYS": "k=alice"}, host="0.0.0.0").keys == {hash_key("k"): ("alice",)}
    with pytest.raises(ConfigError, match="namespace"):
        load_serve_config(None, {"ASSISTANT_SERVE_KEYS": "k=../etc"})
    with pytest.raises(ConfigError, match="KEY=NAMESPACE"):
        load_serve_config(None, {"ASSISTANT_SERVE_KEYS": "just-a-key"})


def test_the_command_refuses_and_says_why():
    cli = [sys.executable, "-m", "assistant.cli", "serve", "--host", "0.0.0.0", "--port", "8799"]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in done.stderr
    assert "Traceback" not in done.stderr
    hashed = subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--hash-key", "s3cret"],
                            capture_output=True, text=True, timeout=60)
    assert hashed.stdout.strip() == hash_key("s3cret")


def test_keys_are_kept_hashed():
    config = load_serve_config({"keys": {"plain-key": "alice"}}, {"ASSISTANT_SERVE_KEYS": "env-key=bob"})
    assert "plain-key" not in repr(config) and "env-key" not in repr(config)
    assert set(config.keys) == {hash_key("plain-key"), hash_key("env-key")}


def test_the_command_serves_with_keys_from_config_and_env(tmp_path):
    """`assistant serve` itself: the [serve] table (beside [assistant]-less settings) and
    ASSISTANT_SERVE_KEYS, a model server that is not there (nothing is loaded to answer this)."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'user = "alice"\n[serve]\nport = {port}\nkeys = {{ "{hash_key("cfg-key")}" = "alice" }}\n')
    env = {**os.environ, "ASSISTANT_CONFIG": str(config), "ASSISTANT_SERVE_KEYS": "env-key=bob",
           "ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    cli = [sys.executable, "-m", "assistant.cli", "--model", "openai:none@http://127.0.0.1:9/v1", "serve"]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, timeout=120, proc=proc, path="/healthz")
        assert httpx.get(f"{url}/v1/models").status_code == 401
        for key, namespace in (("cfg-key", "alice"), ("env-key", "bob")):
            listed = httpx.get(f"{url}/v1/sessions", headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert listed.status_code == 200, listed.text
        assert (tmp_path / "data" / "sessions" / disk_name("bob")).is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stderr.read().decode(errors="replace")
    assert proc.returncode in (0, -15) and "Application shutdown complete" in log, log[-1000:]  # shut down cleanly
    assert "Traceback" not in log


def test_a_bad_serve_table_is_one_line():
    with pytest.raises(ConfigError, match=r"\[serve\]: unknown setting 'prot'"):
        load_serve_config({"prot": 1}, {})
    with pytest.raises(ConfigError, match="approval must be one of"):
        load_serve_config({"approval": "sometimes"}, {})
    with pytest.raises(ConfigError, match="queue must be a number"):
        load_serve_config({"queue": "many"}, {})
