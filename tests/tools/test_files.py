"""Workspace-confined file tools: escapes by '..', absolute paths and symlinks are refused."""

from __future__ import annotations

import os

import pytest

from tools import WorkspaceError, default_registry
from tools import files
from tools.files import list_files, read_file, resolve_in_workspace, write_file


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")
    return root


def test_read_write_and_list_inside_the_workspace(ws):
    assert read_file("notes/a.txt", ws) == "hello\n"
    assert read_file(str(ws / "notes" / "a.txt"), ws) == "hello\n"  # absolute but inside
    assert write_file("out/new.md", "# Title\n", ws) == "wrote 8 bytes to out/new.md"
    assert (ws / "out" / "new.md").read_text() == "# Title\n"
    assert write_file("notes/a.txt", "replaced", ws) == "wrote 8 bytes to notes/a.txt"
    assert read_file("notes/a.txt", ws) == "replaced"
    assert list_files(ws) == ["notes/a.txt", "out/new.md"]


@pytest.mark.parametrize("path", ["../secret.txt", "notes/../../secret.txt", "../ws2/x"])
def test_dotdot_escapes_are_refused(ws, path):
    with pytest.raises(WorkspaceError, match="escapes the workspace with '..'"):
        read_file(path, ws)
    with pytest.raises(WorkspaceError, match="escapes the workspace"):
        write_file(path, "x", ws)
    assert (ws.parent / "secret.txt").read_text() == "TOP-SECRET"


def test_absolute_paths_outside_are_refused(ws):
    for path in ("/etc/passwd", str(ws.parent / "secret.txt")):
        with pytest.raises(WorkspaceError, match="absolute path outside the workspace"):
            read_file(path, ws)
    with pytest.raises(WorkspaceError, match="absolute path outside the workspace"):
        write_file(str(ws.parent / "evil.txt"), "x", ws)
    assert not (ws.parent / "evil.txt").exists()


def test_symlink_escapes_are_refused_for_files_and_folders(ws):
    os.symlink(ws.parent / "secret.txt", ws / "link.txt")
    os.symlink(ws.parent, ws / "updir")
    with pytest.raises(WorkspaceError, match="outside the workspace through a symlink"):
        read_file("link.txt", ws)
    with pytest.raises(WorkspaceError, match="through a symlink"):
        read_file("updir/secret.txt", ws)
    with pytest.raises(WorkspaceError, match="through a symlink"):
        write_file("link.txt", "overwrite", ws)
    with pytest.raises(WorkspaceError, match="through a symlink"):
        write_file("updir/planted.txt", "x", ws)
    assert (ws.parent / "secret.txt").read_text() == "TOP-SECRET"
    assert not (ws.parent / "planted.txt").exists()
    assert list_files(ws) == ["notes/a.txt"]  # symlinks are neither listed nor followed


def test_symlinks_that_stay_inside_are_fine(ws):
    os.symlink(ws / "notes" / "a.txt", ws / "alias.txt")
    assert read_file("alias.txt", ws) == "hello\n"
    assert resolve_in_workspace("alias.txt", ws) == (ws / "notes" / "a.txt").resolve()


@pytest.mark.parametrize("path, message", [("", "empty path"), ("a\x00b", "NUL byte")])
def test_malformed_paths(ws, path, message):
    with pytest.raises(WorkspaceError, match=message):
        read_file(path, ws)


def test_binary_and_non_utf8_files_are_refused(ws):
    (ws / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (ws / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(WorkspaceError, match=r"'img.png' looks binary \(16 bytes\)"):
        read_file("img.png", ws)
    with pytest.raises(WorkspaceError, match="is not UTF-8 text"):
        read_file("latin1.txt", ws)


def test_reads_are_capped_with_a_note(ws, monkeypatch):
    monkeypatch.setattr(files, "MAX_READ_BYTES", 10)
    (ws / "long.txt").write_text("é" * 20, encoding="utf-8")  # 40 bytes, 2 bytes a char
    text = read_file("long.txt", ws)
    assert text == "é" * 5 + "\n[... truncated: long.txt is 40 bytes; showing the first 10]"
    (ws / "odd.txt").write_text("a" + "é" * 20, encoding="utf-8")  # the cut splits a character
    assert read_file("odd.txt", ws).startswith("a" + "é" * 4 + "\n[... truncated")


def test_writes_are_capped_and_directories_refused(ws, monkeypatch):
    monkeypatch.setattr(files, "MAX_WRITE_BYTES", 5)
    with pytest.raises(WorkspaceError, match="content is 6 bytes; the limit is 5"):
        write_file("big.txt", "x" * 6, ws)
    with pytest.raises(WorkspaceError, match="'notes' is a directory"):
        write_file("notes", "x", ws)
    with pytest.raises(WorkspaceError, match="is not a regular file"):
        read_file("notes", ws)
    assert list_files(ws) == ["notes/a.txt"]  # no temp file left behind


def test_missing_files_and_workspaces(ws, tmp_path):
    with pytest.raises(WorkspaceError, match="'nope.txt' does not exist in the workspace"):
        read_file("nope.txt", ws)
    with pytest.raises(WorkspaceError, match="does not exist or is not a directory"):
        list_files(tmp_path / "absent")
    assert write_file("a.txt", "x", tmp_path / "fresh") == "wrote 1 bytes to a.txt"  # created


def test_list_files_caps_the_listing(ws, monkeypatch):
    monkeypatch.setattr(files, "MAX_LIST", 2)
    for name in "xyz":
        (ws / f"{name}.txt").write_text(name)
    assert list_files(ws) == ["notes/a.txt", "x.txt", "[... 2 more files not listed]"]


def test_registry_file_tools_are_bound_by_the_program(ws):
    registry = default_registry(plugins=False)
    read = registry.get("read_file").bind(workspace=ws)
    write = registry.get("write_file").bind(workspace=ws)
    assert read.invoke({"path": "notes/a.txt"}).output == "hello\n"
    assert write.invoke({"path": "b.txt", "content": "B"}).output == "wrote 1 bytes to b.txt"
    escaped = read.invoke({"path": "../secret.txt"})
    assert not escaped.ok and escaped.error.startswith("WorkspaceError: '../secret.txt' escapes the workspace")
    assert "TOP-SECRET" not in escaped.as_text()
    assert registry.get("list_files").bind(workspace=ws).invoke({}).output == ["b.txt", "notes/a.txt"]
