"""`assistant mcp`, the real command in a subprocess, driven by the `mcp` SDK's own client over stdio
(and streamable HTTP): Throughline's memory from another agent, in the --user namespace only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def session(data_dir: Path, *args: str, work) -> dict:
    """Start `assistant mcp ARGS` as the SDK's stdio client does and run `work(client)`."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp", *args],
                                   env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)}, cwd=str(ROOT))
    out: dict = {}

    async def main() -> None:
        with anyio.fail_after(240):
            async with Client(params, read_timeout_seconds=180) as client:
                await work(client, out)

    anyio.run(main)
    return out


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "text", None))


def test_a_memory_added_by_the_cli_is_found_through_mcp_search(tmp_path):
    data = tmp_path / "data"
    cli(data, "--user", "ana", "memory", "add", "Ana's cat is called Pixel and hates Mondays")
    cli(data, "--user", "bob", "memory", "add", "Bob's cat is called Pixel too, a secret")

    async def work(client, out):
        out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
        found = await client.call_tool("memory_search", {"query": "what is the cat called?", "k": 5})
        out["found"] = found
        added = await client.call_tool("memory_add", {"text": "Ana drinks her coffee black"})
        out["added"] = json.loads(text_of(added))["id"]
        out["again"] = text_of(await client.call_tool("memory_search", {"query": "how does Ana take coffee"}))
        out["stats"] = json.loads(text_of(await client.call_tool("memory_stats", {})))
        out["forgot"] = json.loads(text_of(await client.call_tool("memory_forget", {"id": out["added"]})))
        out["after"] = text_of(await client.call_tool("memory_search", {"query": "how does Ana take coffee"}))
        out["bad"] = await client.call_tool("memory_search", {"query": "x", "kind": "diary"})

    out = session(data, "--user", "ana", work=work)
    assert out["tools"] == ["ask", "memory_add", "memory_forget", "memory_search", "memory_stats"]
    assert not out["found"].is_error
    texts = text_of(out["found"])
    assert "Pixel and hates Mondays" in texts and "secret" not in texts  # bob's namespace never leaks
    assert "coffee black" in out["again"]
    assert out["stats"]["namespace"] == "ana" and out["stats"]["count"] == 2 and "by_namespace" not in out["stats"]
    assert out["forgot"] == {"id": out["added"], "forgotten": True}
    assert out["bad"].is_error and "kind must be one of" in text_of(out["bad"])
    assert "coffee" not in out["after"]  # forgotten for real


def test_read_only_offers_search_and_refuses_add(tmp_path):
    data = tmp_path / "data"
    cli(data, "memory", "add", "The release is on Friday")

    async def work(client, out):
        out["tools"] = [t.name for t in (await client.list_tools()).tools]
        out["search"] = text_of(await client.call_tool("memory_search", {"query": "when is the release"}))
        out["add"] = await client.call_tool("memory_add", {"text": "sneaky"})
        out["after"] = text_of(await client.call_tool("memory_search", {"query": "sneaky"}))

    out = session(data, "--read-only", work=work)
    assert out["tools"] == ["memory_search"]
    assert "Friday" in out["search"]
    assert out["add"].is_error and "memory_add" in text_of(out["add"])
    assert "sneaky" not in out["after"]


def test_streamable_http_on_loopback(tmp_path):
    from mcp import Client

    data = tmp_path / "data"
    cli(data, "memory", "add", "The office plant is a fern named Gerald")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
    server = subprocess.Popen([sys.executable, "-m", "assistant.cli", "mcp", "--read-only", "--http", str(port)],
                              env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert "streamable HTTP at http://127.0.0.1:" in server.stderr.readline()
        found: list[str] = []

        async def main() -> None:
            with anyio.fail_after(240):
                while True:  # the line is printed just before uvicorn binds
                    try:
                        async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=180) as client:
                            result = await client.call_tool("memory_search", {"query": "what is the plant called"})
                            found.append(text_of(result))
                            return
                    except Exception:  # noqa: BLE001 - not listening yet
                        await anyio.sleep(0.5)

        anyio.run(main)
        assert "Gerald" in found[0]
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize("value, expected", [("8765", ("127.0.0.1", 8765)), ("0.0.0.0:80", ("0.0.0.0", 80)),
                                             ("[::1]:9000", ("::1", 9000))])
def test_http_addresses(value, expected):
    from assistant.mcp_server import parse_http

    assert parse_http(value) == expected


def test_a_bad_http_address_is_one_line():
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "mcp", "--http", "here:there"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("assistant: error: --http wants HOST:PORT")
