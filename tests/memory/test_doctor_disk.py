"""Doctor on a full, read-only or missing disk (issue #14): says which, changes nothing, and a
repair never moves a store it has not rebuilt and verified. The disks are real small tmpfs
mounts (the suite runs as root in CI); without mount rights these tests skip, saying why."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from memory import Memory, MemoryStore, StoreUnavailable, doctor
from memory import disk as disk_module

TEXTS = [f"note {i}: the quarterly figure was {i * 7} units" for i in range(40)]


def _mount(size: str) -> Path:
    where = Path(f"/tmp/throughline-test-{uuid.uuid4().hex[:8]}")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'mount failed'}); needs root")
    return where


@pytest.fixture
def small_disk():
    where = _mount("40m")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)
    where.rmdir()


def _fill(path, embedder):
    with MemoryStore(path, namespace="alice", embedder=embedder) as store:
        return sorted(store.add_many([Memory(t, kind="fact") for t in TEXTS]))


def _fill_disk(where: Path) -> Path:
    filler = where / "filler"
    with open(filler, "wb") as fp:
        try:
            while True:
                fp.write(b"\0" * (1 << 20))
                fp.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _ids(path, embedder):
    with MemoryStore(path, namespace="alice", embedder=embedder) as store:
        return sorted(m.id for m in store.all())


def test_a_full_disk_is_diagnosed_and_repair_loses_nothing(small_disk, fake_embedder):
    path = small_disk / "memory"
    ids = _fill(path, fake_embedder)
    filler = _fill_disk(small_disk)
    report = doctor(path, repair=True, embedder=fake_embedder)
    assert report.condition == "disk full" and not report.healthy
    assert "full" in str(report) and report.moved_to is None and report.actions == ()
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "memory"]  # nothing moved aside
    filler.unlink()
    assert doctor(path).healthy
    assert _ids(path, fake_embedder) == ids


def test_a_failed_rebuild_is_rolled_back_and_the_store_kept(small_disk, fake_embedder, monkeypatch):
    path = small_disk / "memory"
    ids = _fill(path, fake_embedder)
    with open(path / "chroma.sqlite3", "r+b") as fp:
        fp.write(b"this is not sqlite" * 10)
    journal_bytes = {p.name: p.read_bytes() for p in (path / "journal").iterdir()}
    # Leave room for the checks but not for the rebuild, and let the space estimate pass anyway:
    # the rebuild then meets ENOSPC half-way.
    filler = _fill_disk(small_disk)
    os.truncate(filler, filler.stat().st_size - (20 << 20))
    (small_disk / "ballast").write_bytes(b"\0" * ((20 << 20) - (96 << 10)))  # ~96 KB left: less than Chroma needs
    monkeypatch.setattr(disk_module, "MIN_FREE_BYTES", 1)
    report = doctor(path, repair=True, embedder=fake_embedder)
    assert not report.healthy and report.moved_to is None
    assert "left as it was" in " ".join(report.problems)
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast", "filler", "memory"]  # no half-built copy
    assert {p.name: p.read_bytes() for p in (path / "journal").iterdir()} == journal_bytes
    filler.unlink()
    fixed = doctor(path, repair=True, embedder=fake_embedder)
    assert fixed.healthy and fixed.moved_to is not None, fixed.problems
    assert _ids(path, fake_embedder) == ids


_FILL = """
import runpy, sys
from memory import Memory, MemoryStore
embedder = runpy.run_path(sys.argv[2])["HashEmbedder"]()
with MemoryStore(sys.argv[1], namespace="alice", embedder=embedder) as store:
    store.add_many([Memory(t, kind="fact") for t in sys.argv[3:]])
"""


def test_a_read_only_store_is_diagnosed_and_can_be_searched_and_exported(small_disk, fake_embedder, tmp_path):
    path = small_disk / "memory"
    # Filled by a child process: remounting read-only needs every file on the disk closed, and
    # Chroma may release its files a moment after `close()` in this process.
    fakes = Path(__file__).with_name("memory_fakes.py")
    subprocess.run([sys.executable, "-c", _FILL, str(path), str(fakes), *TEXTS], check=True,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    ids = TEXTS
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    report = doctor(path, repair=True, embedder=fake_embedder)
    assert report.condition == "read-only" and "searched and exported" in str(report)
    assert report.namespaces == {"alice": len(TEXTS)}
    with MemoryStore(path, namespace="alice", embedder=fake_embedder) as store:
        assert store.read_only
        assert store.search("quarterly figure note 3", k=3)
        assert store.export_jsonl(tmp_path / "out.jsonl") == len(TEXTS)
        with pytest.raises(StoreUnavailable, match="read-only"):
            store.add(Memory("new"))
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == len(ids)


def test_the_cli_searches_and_exports_a_read_only_data_dir(small_disk, tmp_path):
    from tests.assistant.test_cli import run_cli

    data = small_disk / "data"
    assert run_cli("--data-dir", str(data), "memory", "add", "the launch code is blue falcon")[0] == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, out, err = run_cli("--data-dir", str(data), "memory", "search", "launch code")
    assert code == 0 and "blue falcon" in out, err
    code, out, err = run_cli("--data-dir", str(data), "memory", "export")
    assert code == 0 and "blue falcon" in out, err
    code, out, _ = run_cli("--data-dir", str(data), "memory", "doctor")
    assert code == 1 and "read-only" in out
