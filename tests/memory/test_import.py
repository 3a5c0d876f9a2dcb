"""`import_jsonl` is all or nothing on bad input, applies `memory add`'s limits, names bad lines
(invalid UTF-8 included) and is idempotent on re-import, ids or not (issue #14)."""

from __future__ import annotations

import io
import json

import pytest

from memory import ImportFileError, MemoryStore, StoreUnavailable


def _lines(n: int, with_ids: bool = False) -> list[str]:
    return [json.dumps({"text": f"note number {i}", "kind": "fact", **({"id": f"n{i}"} if with_ids else {})})
            for i in range(n)]


def test_a_bad_line_after_many_good_ones_imports_nothing(tmp_path, fake_embedder):
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(_lines(1100) + ["{not json"]) + "\n", encoding="utf-8")
    with MemoryStore(tmp_path / "mem", embedder=fake_embedder) as store:
        with pytest.raises(ImportFileError, match="line 1101") as err:
            store.import_jsonl(path)
        assert "nothing imported" in str(err.value)
        assert store.count() == 0


def test_bad_lines_are_named_invalid_utf8_and_limits_included(tmp_path, fake_embedder):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join([
        b'{"text": "fine"}',
        b'{"text": "caf\xe9"}',                         # line 2: not UTF-8
        b'{"text": "   "}',                            # line 3: empty text
        b'{"text": "' + b"x" * 2000 + b'"}',            # line 4: over the limit
        b'{"text": "ok", "kind": "nonsense"}',          # line 5: unknown kind
    ]) + b"\n")
    with MemoryStore(tmp_path / "mem", embedder=fake_embedder) as store:
        with pytest.raises(ImportFileError) as err:
            store.import_jsonl(path, max_chars=1000)
        message = str(err.value)
        for needle in ("line 2: not UTF-8", "line 3: the text is empty", "line 4: the text is 2000 characters",
                       "line 5"):
            assert needle in message
        assert err.value.bad_lines == 4 and store.count() == 0


def test_a_huge_record_is_refused_without_reading_it_whole(tmp_path, fake_embedder):
    path = tmp_path / "huge.jsonl"
    with open(path, "w", encoding="utf-8") as fp:
        fp.write('{"text": "' + "y" * (20 << 20) + '"}\n{"text": "after"}\n')
    with MemoryStore(tmp_path / "mem", embedder=fake_embedder) as store:
        with pytest.raises(ImportFileError, match="line 1: longer than"):
            store.import_jsonl(path)


def test_reimporting_records_without_ids_does_not_duplicate(tmp_path, fake_embedder):
    data = "\n".join(_lines(30)) + "\n"
    with MemoryStore(tmp_path / "mem", embedder=fake_embedder) as store:
        assert store.import_jsonl(io.StringIO(data)) == 30
        assert store.import_jsonl(io.BytesIO(data.encode())) == 30
        assert store.count() == 30


class FailingAfter:
    """An add_many that fails on its second chunk, as a full disk would."""

    def __init__(self, store):
        self.store, self.calls = store, 0

    def __call__(self, memories):
        self.calls += 1
        if self.calls == 2:
            raise StoreUnavailable("no space left on device")
        return self.store.add_many(memories)


def test_a_store_failure_part_way_says_what_was_stored(tmp_path, fake_embedder):
    from memory.transfer import import_jsonl

    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(_lines(1500, with_ids=True)) + "\n", encoding="utf-8")
    with MemoryStore(tmp_path / "mem", embedder=fake_embedder) as store:
        with pytest.raises(StoreUnavailable, match=r"the first 1024 records \(through line 1024\)"):
            import_jsonl(FailingAfter(store), path)
        assert store.count() == 1024
        assert store.import_jsonl(path) == 1500 and store.count() == 1500  # the retry completes, no duplicates


def test_the_cli_exits_2_naming_the_line(tmp_path):
    from tests.assistant.test_cli import assert_one_line_error, run_cli

    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    code, _, err = run_cli("--data-dir", str(tmp_path / "d"), "memory", "import", str(path))
    assert code == 2
    assert_one_line_error(code, err, "line 2", "UTF-8")
    code, _, err = run_cli("--data-dir", str(tmp_path / "d"), "memory", "import", "-", input=b'{"text": ""}\n')
    assert code == 2
    assert_one_line_error(code, err, "line 1", "empty")
