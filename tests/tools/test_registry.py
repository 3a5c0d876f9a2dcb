"""ToolRegistry: registration, duplicates, lookup, and plugins found through real entry points
(a temporary *.dist-info on sys.path, exactly what `pip install` of a plugin leaves behind)."""

from __future__ import annotations

import textwrap

import pytest

from tools import DuplicateToolError, Tool, ToolRegistry, UnknownToolError, default_registry, tool
from tools.registry import BUILTIN

BUILTIN_NAMES = ["analyze_table", "diff_texts", "list_files", "outline", "plot_table", "profile_table_file",
                 "read_file", "reading_level", "run_python", "run_tests", "sentence_count", "table_op", "word_count",
                 "write_file"]


def greet(name: str) -> str:
    """Greet someone."""
    return f"hello {name}"


def test_register_accepts_functions_tools_and_langchain_tools():
    from langchain_core.tools import tool as lc_tool

    @lc_tool
    def lc_double(x: int) -> int:
        """Double a number."""
        return 2 * x

    registry = ToolRegistry()
    made = registry.register(greet)
    assert isinstance(made, Tool) and made.name == "greet"
    registry.register(tool(name="greet_again")(greet))
    registry.register(lc_double)
    assert registry.names() == ["greet", "greet_again", "lc_double"]
    assert [t.name for t in registry] == registry.names()
    assert "greet" in registry and "nope" not in registry
    assert len(registry) == 3
    assert registry.get("lc_double").invoke({"x": 4}).output == 8
    assert registry.origins["greet"] == "api"


def test_register_works_as_a_decorator():
    registry = ToolRegistry()

    @registry.register
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    assert isinstance(shout, Tool)
    assert registry.get("shout") is shout


def test_duplicate_names_are_rejected_clearly():
    registry = ToolRegistry()
    registry.register(greet, origin="built-in")
    with pytest.raises(DuplicateToolError, match=r"two tools are named 'greet' \(built-in and api\)"):
        registry.register(greet)
    replacement = tool(description="Greet, replaced.")(greet)
    registry.register(replacement, replace=True)
    assert registry.get("greet") is replacement


def test_unknown_names_list_what_is_registered():
    registry = ToolRegistry()
    registry.register(greet)
    with pytest.raises(UnknownToolError, match=r"no tool named 'gret' \(registered: greet\)"):
        registry.get("gret")
    with pytest.raises(LookupError):
        registry.get("gret")


def test_default_registry_holds_the_builtins_through_the_register_hook():
    registry = default_registry(plugins=False)
    assert registry.names() == BUILTIN_NAMES
    assert set(registry.origins.values()) == {"built-in"}
    assert registry.get("word_count").invoke({"text": "one two three"}).output == 3
    # the file tools are unbound: the workspace never comes from the model
    assert "workspace" not in registry.get("read_file").schema()["properties"]


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """Install fake plugins as a dist-info + modules on sys.path; return a function adding them."""
    lines = []

    def add(name: str, value: str, module: str | None = None, source: str = "") -> None:
        lines.append(f"{name} = {value}")
        if module:
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        dist = tmp_path / "throughline_fake_plugins-1.0.dist-info"
        dist.mkdir(exist_ok=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: throughline-fake-plugins\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text("[throughline.tools]\n" + "\n".join(lines) + "\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    return add


GOOD_PLUGIN = '''
    from tools import tool

    @tool
    def reverse(text: str) -> str:
        """Reverse a text."""
        return text[::-1]

    def register(registry):
        registry.register(reverse)
'''

HALF_BROKEN_PLUGIN = '''
    def first(x: int) -> int:
        """First tool."""
        return x

    def register(registry):
        registry.register(first)
        raise RuntimeError("plugin exploded after registering one tool")
'''

DUPLICATE_PLUGIN = '''
    def word_count(text: str) -> int:
        """Shadow the built-in."""
        return 0

    def register(registry):
        registry.register(word_count)
'''


def test_plugins_load_through_entry_points_and_broken_ones_are_recorded(plugin_dist):
    plugin_dist("good", "tl_fake_good:register", "tl_fake_good", GOOD_PLUGIN)
    plugin_dist("half", "tl_fake_half:register", "tl_fake_half", HALF_BROKEN_PLUGIN)
    plugin_dist("dupe", "tl_fake_dupe:register", "tl_fake_dupe", DUPLICATE_PLUGIN)
    plugin_dist("missing", "tl_fake_not_installed:register")
    plugin_dist("notcallable", "tl_fake_good:reverse_not_there")
    plugin_dist("builtin_again", BUILTIN)  # declaring the built-ins as an entry point is harmless

    registry = default_registry()

    assert "reverse" in registry
    assert registry.get("reverse").invoke({"text": "abc"}).output == "cba"
    assert registry.origins["reverse"] == "plugin good (tl_fake_good:register)"
    assert "first" not in registry  # a failing plugin is rolled back as a whole
    assert registry.get("word_count").invoke({"text": "a b"}).output == 2  # built-in kept
    errors = dict(registry.plugin_errors)
    assert set(errors) == {"half", "dupe", "missing", "notcallable"}
    assert errors["half"] == "RuntimeError: plugin exploded after registering one tool"
    assert errors["dupe"].startswith("DuplicateToolError: two tools are named 'word_count' (built-in and plugin dupe")
    assert errors["missing"].startswith("ModuleNotFoundError")
    assert errors["notcallable"].startswith("AttributeError")
    assert set(registry.names()) == set(BUILTIN_NAMES) | {"reverse"}


def test_load_plugins_reports_which_loaded(plugin_dist):
    plugin_dist("good", "tl_fake_good2:register", "tl_fake_good2", GOOD_PLUGIN)
    registry = ToolRegistry()
    assert registry.load_plugins() == ["good"]
    assert registry.names() == ["reverse"]
    assert registry.load_plugins(group="throughline.nothing_here") == []
