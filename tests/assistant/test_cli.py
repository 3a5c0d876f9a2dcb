"""The `assistant` command through real subprocesses, as a person runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, input: bytes | str | None = None, env: dict | None = None, timeout: float = 240, cwd=None):
    base = {k: v for k, v in os.environ.items() if k != "ASSISTANT_DEBUG"}
    full_env = {**base, **(env or {})}
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], input=data, capture_output=True,
        env={**full_env, "PYTHONPATH": str(ROOT)}, timeout=timeout, cwd=cwd or ROOT,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("assistant:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_lists_every_command():
    code, out, err = run_cli("--help")
    assert code == 0 and "Traceback" not in err
    for command in ("ask", "route", "memory", "tools"):
        assert command in out


def test_no_arguments_opens_the_tui_which_reports_a_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("[assistant]\nmax_new_tokens = 'lots'\n")
    code, _, err = run_cli(env={"ASSISTANT_CONFIG": str(bad)})
    assert_one_line_error(code, err, "max_new_tokens")


def test_route_one_request_and_a_file_of_requests(tmp_path):
    code, out, _ = run_cli("route", "--json", "Plot sales by month")
    assert code == 0 and json.loads(out)["route"] == "analysis"
    requests = "Write a poem about autumn\nImplement quicksort\n\nWhat is the capital of Peru?\n"
    code, out, _ = run_cli("route", input=requests)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["text"], r["route"]) for r in rows] == [
        ("Write a poem about autumn", "writing"), ("Implement quicksort", "coding"),
        ("What is the capital of Peru?", "chat"),
    ]
    assert all(0 <= r["score"] <= 1 for r in rows)


@pytest.mark.model
def test_ask_json_answers_with_the_bundled_model_and_remembers_across_processes():
    code, out, err = run_cli("ask", "--json", "Write a haiku about the sea")
    assert code == 0, err
    reply = json.loads(out)
    assert reply["route"] == "writing"
    assert len(reply["text"].split()) >= 3
    assert set(reply["timings"]) == {"recall_ms", "route_ms", "first_token_ms", "total_ms", "tokens", "tokens_per_s",
                                    "decode_tokens_per_s"}
    assert reply["timings"]["tokens"] > 0
    assert reply["artifacts"] and reply["artifacts"][0]["kind"] == "draft"
    assert Path(reply["artifacts"][0]["path"]).read_text().strip() == reply["text"].strip()

    code, out, err = run_cli("ask", "--json", "--session", "intro", "Hello, my name is Ana Lopez.")
    assert code == 0, err
    code, out, err = run_cli("ask", "--json", "--session", "later", "What is my name?")
    assert code == 0, err
    recalled = json.loads(out)["recalled"]
    assert any("Ana Lopez" in m["text"] for m in recalled), recalled


def test_memory_commands_round_trip(tmp_path):
    code, out, err = run_cli("memory", "add", "--json", "Alice prefers short sentences")
    assert code == 0, err
    mid = json.loads(out)["id"]
    run_cli("memory", "add", "The deploy script lives in ops/deploy.sh", "--kind", "fact")
    code, out, _ = run_cli("memory", "search", "--json", "how does Alice like her prose?", "-k", "1")
    assert code == 0 and json.loads(out.splitlines()[0])["id"] == mid
    export = tmp_path / "mem.jsonl"
    assert run_cli("memory", "export", str(export))[0] == 0
    assert len(export.read_text().splitlines()) == 2
    code, out, _ = run_cli("memory", "stats", "--json")
    assert code == 0 and json.loads(out)["count"] == 2
    assert run_cli("memory", "forget", mid)[0] == 0
    code, _, err = run_cli("memory", "forget", mid)
    assert code != 0 and "no memory with id" in err
    other = {"ASSISTANT_DATA_DIR": str(tmp_path / "other")}
    assert run_cli("memory", "import", str(export), env=other)[0] == 0
    code, out, _ = run_cli("memory", "search", "--json", "Alice", "-k", "5", env=other)
    assert mid in {json.loads(line)["id"] for line in out.splitlines()}


def test_tools_lists_chains_and_tools():
    code, out, _ = run_cli("tools", "--json")
    assert code == 0
    listing = json.loads(out)
    assert {c["name"] for c in listing["chains"]} >= {"writing", "coding", "analysis", "chat"}
    assert {"run_python", "word_count"} <= {t["name"] for t in listing["tools"]}
    from tools.confinement import summary

    assert listing["sandbox"] == {"mode": "auto", "network": False, "confinement": summary("auto", False)}
    code, out, _ = run_cli("tools", env={"ASSISTANT_SANDBOX": "hook"})
    assert code == 0 and "Sandbox (hook): seatbelt only: audit hook, no kernel confinement" in out


def test_unknown_model_spec():
    assert_one_line_error(*run_cli("--model", "gpt9:foo", "ask", "hi")[::2], "gpt9:foo")


def test_malformed_config(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("model = = 'x'\n")
    code, _, err = run_cli("ask", "hi", env={"ASSISTANT_CONFIG": str(bad)})
    assert_one_line_error(code, err, "config.toml", "TOML")


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    code, _, err = run_cli("--data-dir", str(blocker / "sub"), "ask", "hi")
    assert_one_line_error(code, err, str(blocker / "sub"))


@pytest.mark.parametrize(
    "stdin, needle",
    [(b"", "empty"), (b"   \n\t", "empty"), (b"a" * 1_000_001, "1.0 MB"), (bytes(range(256)) * 64, "binary")],
    ids=["empty", "blank", "1MB", "binary"],
)
def test_bad_input_on_stdin(stdin, needle):
    code, out, err = run_cli("ask", "-", input=stdin)
    assert_one_line_error(code, err, needle)
    assert out == ""


def test_unreachable_model_server():
    code, _, err = run_cli("--model", "openai:any@http://127.0.0.1:9/v1", "ask", "What is the capital of Peru?")
    assert_one_line_error(code, err, "127.0.0.1:9")


def test_debug_shows_the_traceback():
    code, _, err = run_cli("--model", "nope:x", "ask", "hi", env={"ASSISTANT_DEBUG": "1"})
    assert code != 0 and "Traceback" in err


def test_memory_doctor_finds_and_repairs_a_corrupt_store(tmp_path):
    data = tmp_path / "d"
    env = {"ASSISTANT_DATA_DIR": str(data)}
    assert run_cli("memory", "add", "Alice prefers short sentences", env=env)[0] == 0
    code, out, _ = run_cli("memory", "doctor", env=env)
    assert code == 0 and "healthy" in out
    (data / "memory" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    code, _, err = run_cli("memory", "stats", env=env)
    assert_one_line_error(code, err, "memory doctor --repair")
    code, out, _ = run_cli("memory", "doctor", env=env)
    assert code == 1 and "problem" in out
    code, out, err = run_cli("memory", "doctor", "--repair", "--json", env=env)
    report = json.loads(out)
    assert report["healthy"] and report["moved_to"], (out, err)
    code, out, _ = run_cli("memory", "search", "--json", "Alice", env=env)
    assert code == 0 and "Alice prefers short sentences" in out  # rebuilt from the journal


def test_ask_without_a_terminal_does_not_run_code_and_says_how_to(tmp_path):
    # stdin is a pipe: nobody can approve, so the code is shown, not run, and --auto-run is named
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_MAX_NEW_TOKENS": "80"}
    code, out, err = run_cli("ask", "/code Write a Python function add(a, b) that returns a + b", input=b"", env=env)
    assert code == 0, err
    assert "def add" in out
    assert "--auto-run" in out and "declined" not in out
    artifacts = list((tmp_path / "data" / "workspaces").rglob("artifacts/*"))
    assert [a.suffix for a in artifacts] == [".py"]  # the code was kept; no run output exists


def test_a_memory_problem_during_a_turn_exits_with_the_memory_code(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "memory").write_text("not a dir")  # the store cannot open: found inside the turn
    code, _, err = run_cli("ask", "hello there", env={"ASSISTANT_DATA_DIR": str(data)})
    assert_one_line_error(code, err, "is a file, not a directory")
    assert code == 3  # MemoryFailure's code, not the generic 1
