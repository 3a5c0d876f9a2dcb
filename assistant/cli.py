"""The `assistant` command. The only place (with the TUI) where errors become messages and exit codes.

Every AssistantError prints one line — what went wrong and what to do — and exits non-zero with the
error's code. Anything else is a bug: one line naming it, and the traceback only with
ASSISTANT_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from assistant.errors import EXIT_BUG, AssistantError, ConfigError, InputError

EXIT_INTERRUPTED = 130


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Global flags work before or after the subcommand; the subcommand's copy must not reset them."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--data-dir", default=default, help="where memory and sessions live (env ASSISTANT_DATA_DIR)")
    parser.add_argument("--model", default=default, help="bundled | hf:PATH | openai:MODEL[@URL] | ollama:MODEL | llamacpp:GGUF")
    parser.add_argument("--user", default=default, help="memory namespace (default: 'default')")
    parser.add_argument("--memory-url", default=default, help="use a Chroma server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--auto-run", action="store_true", default=default, help="run generated code without asking")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Throughline: an assistant that keeps its context across writing, coding and analysis.",
    )
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _global_options(p, suppress=True)
        return p

    ask = command("ask", "ask one thing (TEXT, or stdin when TEXT is '-' or absent)")
    ask.add_argument("text", nargs="*", help="the request")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    ask.add_argument("--session", default="default", help="thread name (default: 'default')")

    route = command("route", "show which chain would take a request; no TEXT: one request per stdin line")
    route.add_argument("text", nargs="*")
    route.add_argument("--json", action="store_true")

    mem = command("memory", "search and manage long-term memory")
    msub = mem.add_subparsers(dest="memory_command", metavar="ACTION", required=True)

    def mcommand(name: str, help: str) -> argparse.ArgumentParser:
        p = msub.add_parser(name, help=help, description=help)
        _global_options(p, suppress=True)
        return p

    search = mcommand("search", "find memories similar to QUERY")
    search.add_argument("query", nargs="+")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--kind", choices=["turn", "artifact", "fact", "summary"])
    search.add_argument("--json", action="store_true")
    add = mcommand("add", "store a memory")
    add.add_argument("text", nargs="+")
    add.add_argument("--kind", default="fact", choices=["turn", "artifact", "fact", "summary"])
    add.add_argument("--json", action="store_true")
    forget = mcommand("forget", "delete memories by id")
    forget.add_argument("ids", nargs="+")
    export = mcommand("export", "write every memory as JSON Lines (to FILE, or stdout when FILE is - or absent)")
    export.add_argument("file", nargs="?")
    imp = mcommand("import", "read memories from a JSON Lines FILE ('-' for stdin)")
    imp.add_argument("file")
    doctor = mcommand("doctor", "check the memory dir; --repair moves a broken store aside and rebuilds it")
    doctor.add_argument("--repair", action="store_true")
    doctor.add_argument("--json", action="store_true")
    stats = mcommand("stats", "counts by kind and size on disk")
    stats.add_argument("--json", action="store_true")

    ses = command("sessions", "list and export threads (sessions)")
    ssub = ses.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    slist = ssub.add_parser("list", help="the saved sessions, newest first", description="the saved sessions, newest first")
    _global_options(slist, suppress=True)
    slist.add_argument("--json", action="store_true")
    sexport = ssub.add_parser("export", help="write a thread as Markdown or JSON (with its events)",
                              description="write a thread as Markdown or JSON (with its events)")
    _global_options(sexport, suppress=True)
    sexport.add_argument("name", help="the session's name")
    sexport.add_argument("--format", choices=["md", "json"], default="md")
    sexport.add_argument("-o", "--output", help="file to write (default: stdout)")

    tools = command("tools", "list the tools and chains available, built-in and plugins")
    tools.add_argument("--json", action="store_true")

    mcp = command("mcp", "serve memory (and ask) to another agent over MCP: stdio, or --http HOST:PORT")
    mcp.add_argument("--read-only", action="store_true", help="offer only memory_search")
    mcp.add_argument("--http", metavar="HOST:PORT", help="streamable HTTP instead of stdio (loopback by default)")
    agents = command("agents", "the resident agents `ask` keeps loaded between asks (--stop: stop them now)")
    agents.add_argument("--stop", action="store_true", help="stop them (after the turns they are running)")
    agents.add_argument("--json", action="store_true", help="one JSON object per agent")
    serve = command("serve", "serve the assistant over HTTP (OpenAI-compatible; see README 'Embed over HTTP')")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; others need API keys)")
    serve.add_argument("--port", type=int, help="port (default 8765)")
    serve.add_argument("--hash-key", metavar="KEY", help="print KEY's hash for [serve] keys in config.toml, and exit")
    return parser


def read_stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("stdin is not UTF-8 text (binary data?); pass text, or save the data to a file and name it") from None


def _text_arg(parts: Sequence[str]) -> str:
    if parts and parts != ["-"]:
        return " ".join(parts)
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("no request given; pass it as an argument or pipe it on stdin")
    return read_stdin_text()


def _progress_printer() -> Callable[[str, float | None], None]:
    shown: set[str] = set()

    def show(stage: str, fraction: float | None) -> None:
        if stage not in shown:  # one line a stage: progress on stderr never pollutes --json output
            shown.add(stage)
            print(f"… {stage}", file=sys.stderr, flush=True)

    return show


def _assistant(args: argparse.Namespace, **extra: Any):
    from assistant.agent import Assistant

    return Assistant(settings=_settings(args), progress=_progress_printer(), **extra)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.ask_command import run_ask

    text = _text_arg(args.text)
    return run_ask(_settings(args), text, args.session, as_json=args.json, progress=_progress_printer())


def cmd_route(args: argparse.Namespace) -> int:
    with _assistant(args) as bot:
        if args.text:
            route = bot.route(" ".join(args.text))
            if args.json:
                print_json({"text": " ".join(args.text), "route": route.name, "score": round(route.score, 4), "why": route.why})
            else:
                print(f"{route.name}\t{route.score:.2f}\t{route.why}")
            return 0
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no request given; pass TEXT or pipe one request per line on stdin")
        failures = 0
        for line in read_stdin_text().splitlines():
            if not line.strip():
                continue
            try:
                route = bot.route(line)
                print_json({"text": line, "route": route.name, "score": round(route.score, 4)})
            except InputError as exc:  # one bad line must not lose the rest of the file
                failures += 1
                print_json({"text": line[:200], "error": str(exc)})
        return 1 if failures else 0


def cmd_memory_doctor(args: argparse.Namespace) -> int:
    """Runs without opening the store: a store too broken to open is exactly what it is for."""
    from memory import doctor

    settings = _settings(args)
    if settings.memory_url:
        raise InputError("memory doctor checks an embedded store; a Chroma server is checked on the server")
    report = doctor(settings.data_dir / "memory", repair=args.repair)
    if args.json:
        print_json({"path": str(report.path), "healthy": report.healthy, "condition": report.condition,
                     "problems": list(report.problems), "actions": list(report.actions),
                     "moved_to": str(report.moved_to) if report.moved_to else None})
    else:
        print(report)
    return 0 if report.healthy else 1


def cmd_memory(args: argparse.Namespace) -> int:
    from memory import ImportFileError, Memory, MemoryStoreError

    if args.memory_command == "doctor":
        return cmd_memory_doctor(args)

    with _assistant(args) as bot:
        try:
            store = bot.store
            action = args.memory_command
            if action == "search":
                hits = store.search(" ".join(args.query), k=args.k, kind=args.kind)
                if args.json:
                    for hit in hits:
                        m = hit.memory
                        print_json({"id": m.id, "text": m.text, "kind": m.kind, "score": round(hit.score, 4),
                                     "session": m.session, "created_at": m.created_at.isoformat()})
                else:
                    for hit in hits:
                        m = hit.memory
                        print(f"{hit.score:.2f}  {m.id}  [{m.kind}] {m.created_at:%Y-%m-%d}  {_one_line(m.text)}")
                    if not hits:
                        print("no memories found", file=sys.stderr)
            elif action == "add":
                text = " ".join(args.text)
                from assistant.inputs import validate_request

                memory = Memory(text=validate_request(text, bot.settings.max_request_chars), kind=args.kind,
                                metadata={"source": "cli"})
                [mid] = store.add_many([memory])
                print_json({"id": mid}) if args.json else print(mid)
            elif action == "forget":
                missing = [i for i in args.ids if not store.forget(i)]
                for i in missing:
                    print(f"assistant: no memory with id {i}", file=sys.stderr)
                return 1 if missing else 0
            elif action == "export":
                if args.file and args.file != "-":  # '-' is stdout, as `import -` is stdin
                    count = store.export_jsonl(Path(args.file))
                else:
                    count = store.export_jsonl(sys.stdout)
                print(f"exported {count} memories", file=sys.stderr)
            elif action == "import":
                source = sys.stdin.buffer if args.file == "-" else Path(args.file)
                if isinstance(source, Path) and not source.is_file():
                    raise InputError(f"no file at {source}")
                try:
                    count = store.import_jsonl(source, max_chars=bot.settings.max_request_chars)
                except ImportFileError as exc:
                    raise InputError(str(exc)) from None
                print(f"imported {count} memories", file=sys.stderr)
            elif action == "stats":
                stats = store.stats()
                data = stats.__dict__ if hasattr(stats, "__dict__") else dict(stats)
                if args.json:
                    print_json(data)
                else:
                    for key, value in data.items():
                        print(f"{key}: {value}")
        except MemoryStoreError as exc:
            from assistant.errors import MemoryFailure

            raise MemoryFailure(str(exc)) from exc
    return 0


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cmd_tools(args: argparse.Namespace) -> int:
    from assistant.chains.registry import default_chains
    from assistant.toolbox import ToolBox

    from tools.confinement import configure, summary

    settings = _settings(args)
    configure(settings.sandbox, settings.sandbox_network)
    chains = default_chains()
    box = ToolBox(settings)
    try:
        mcp_errors = box.connect()  # MCP servers' tools are listed too: start them
        tools = box.registry
    finally:
        box.close()
    problems = [(f"plugin {n}", e) for n, e in chains.plugin_errors + list(tools.plugin_errors)]
    problems += [(f"mcp server {n}", e) for n, e in sorted(mcp_errors.items())]
    if args.json:
        print_json({
            "sandbox": {"mode": settings.sandbox, "network": settings.sandbox_network, "confinement": summary()},
            "chains": [{"name": c.name, "prefix": c.prefix, "description": c.description, "origin": chains.origins[c.name]} for c in chains],
            "tools": [{"name": t.name, "description": t.description, "origin": tools.origins[t.name],
                       "side_effects": t.side_effects, "chains": list(t.chains)} for t in tools],
            "plugin_errors": [{"plugin": n, "error": e} for n, e in chains.plugin_errors + list(tools.plugin_errors)],
            "mcp_errors": [{"server": n, "error": e} for n, e in sorted(mcp_errors.items())],
        })
        return 0
    print("Chains:")
    for c in chains:
        print(f"  {c.name:<10} {c.prefix:<9} {c.description}  [{chains.origins[c.name]}]")
    print("Tools (* asks before it runs when a model calls it):")
    for t in tools:
        mark = "*" if t.side_effects else " "
        print(f" {mark}{t.name:<22} {t.description}  [{tools.origins[t.name]}]")
    print(f"Sandbox ({settings.sandbox}): {summary()}")
    for name, error in problems:
        print(f"  ! {name} failed: {error}")
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    from assistant.exporting import export_session
    from assistant.sessions import SessionStore

    settings = _settings(args)
    store = SessionStore(settings.data_dir, settings.user)
    if args.sessions_command == "list":
        sessions = store.list()
        if args.json:
            print_json([{"name": s.name, "turns": len(s.turns), "artifacts": len(s.artifacts),
                          "updated_at": s.updated_at} for s in sessions])
            return 0
        for s in sessions:
            print(f"{s.name}\t{len(s.turns)} turns\t{len(s.artifacts)} artifacts\t{s.updated_at}")
        return 0
    if not store.exists(args.name):
        raise InputError(f"no session named {args.name!r}; `assistant sessions list` shows them")
    text = export_session(store.load(args.name), args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _settings(args: argparse.Namespace):
    from assistant.settings import load_settings

    return load_settings(
        data_dir=getattr(args, "data_dir", None), model=getattr(args, "model", None),
        user=getattr(args, "user", None), memory_url=getattr(args, "memory_url", None),
        auto_run=True if getattr(args, "auto_run", None) else None,
    )


def cmd_mcp(args: argparse.Namespace) -> int:
    from assistant.mcp_server import serve

    with _assistant(args) as bot:
        serve(bot, read_only=args.read_only, http=args.http)
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    from assistant.tui import run_tui

    return run_tui(_settings(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.serve.config import hash_key, load_serve_config
    from assistant.settings import config_file_path, read_toml

    if args.hash_key:
        print(hash_key(args.hash_key))
        return 0
    settings = _settings(args)
    table = read_toml(config_file_path()).get("serve")
    config = load_serve_config(table, os.environ, host=args.host, port=args.port,
                               approval="auto" if settings.auto_run else None)
    from assistant.serve import serve

    serve(settings, config)
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    from assistant.resident.client import running_agents

    found = running_agents(stop=args.stop)
    for agent in found:
        if args.json:
            print_json(agent)
        else:
            print(f"pid {agent['pid']}\t{agent['model']}\t{agent['data_dir']}\tuser {agent['user']}\t"
                  f"{agent['turns']} turns\tidle {agent['idle_s']:g} of {agent['keep_alive_s']:g} s"
                  + ("\tstopping" if args.stop else ""))
    if not found and not args.json:
        print("no resident agent is running", file=sys.stderr)
    return 0


COMMANDS = {"ask": cmd_ask, "route": cmd_route, "memory": cmd_memory, "sessions": cmd_sessions,
            "tools": cmd_tools, "mcp": cmd_mcp, "serve": cmd_serve, "agents": cmd_agents, None: cmd_tui}


def _check_utf8(argv: Sequence[str]) -> None:
    """Python hands non-UTF-8 bytes in argv over as lone surrogates; say so instead of failing later."""
    for number, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise ConfigError(f"argument {number} ({shown!r}) is not UTF-8 text; pass text, or put the data in a file") from None


def main(argv: Sequence[str] | None = None) -> int:
    debug = os.environ.get("ASSISTANT_DEBUG") == "1"
    given = sys.argv[1:] if argv is None else list(argv)
    try:
        _check_utf8(given)
    except ConfigError as exc:
        print(f"assistant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    # The bare command opens the chat UI: no parser of every subcommand to build (~15 ms of its first frame)
    args = argparse.Namespace(command=None) if not given else build_parser().parse_args(given)
    try:
        return COMMANDS[args.command](args)
    except AssistantError as exc:
        if debug:
            raise
        print(f"assistant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, keep the traceback for ASSISTANT_DEBUG=1
        if debug:
            raise
        print(f"assistant: internal error: {type(exc).__name__}: {exc} (set ASSISTANT_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_BUG


def entry() -> None:
    """The `assistant` command: `main`, then a fast exit once a model was loaded.

    Tearing down torch, transformers and Chroma at interpreter exit costs 1-2 s after the answer
    is already printed; the store is closed and output flushed by then, so skip it. Python callers
    use `main()`, which returns."""
    code = main()
    loading = any(t.name == "load-model" and t.is_alive() for t in threading.enumerate())
    # A model still loading in its thread must not meet interpreter shutdown (it may be printing).
    if ("torch" in sys.modules or loading) and os.environ.get("ASSISTANT_DEBUG") != "1":
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more to say
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
