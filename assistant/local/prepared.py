"""A local model's decoding weights, prepared once and kept on disk beside the model's files.

Getting the bundled model ready for `LlamaRunner` takes, on this 2-core machine: importing
transformers' model code (~2.2 s on top of torch), reading the fp32 checkpoint (~1 s) and finding
its exact 4-bit groups (~1.3 s). After the first full load the prepared tensors (int4-packed
layers, their bf16 prompt copies, norms, embeddings) are saved as one safetensors file; later
processes read it and need neither transformers nor the fp32 weights — `assistant ask` starts
answering seconds sooner and never holds two copies of the weights.

The file name carries what the packed layout depends on: the decoding dtype, torch's version and
the CPU capability torch and oneDNN dispatch to. With dtype `auto` the file also records the
kernel plan measured on this CPU (`assistant.local.tuning`) and the CPU's model and features. It is written under a temporary name and renamed, so a
crash never leaves a half file; a file that will not load is ignored and rewritten by the next
full load.

Importing this module is cheap; its functions import torch and safetensors.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.local.bundled import Progress, report_progress

FORMAT = "6"  # bump when the saved layout or plan changes (2: measured kernel plans, int8 layers; 3: auto
# without int8; 4: decode threads timed on the token loop; 5: prompt threads timed on a whole prompt;
# 6: attention, torch's or compiled, timed on a turn-long context)
_META_KEY = "throughline"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """What decoding needs, loaded from a prepared file."""

    runner: Any  # assistant.local.decoding.LlamaRunner
    tokenizer: Any  # assistant.local.chat_tokenizer.ChatTokenizer
    stop_ids: frozenset[int]


@dataclass(frozen=True)
class PreparedCache:
    """Where one model's prepared weights are kept: `folder(progress)` is the model's directory
    (the bundled model's converted cache; it may convert on first use), `label` names it in progress."""

    folder: Callable[[Progress | None], Path]
    label: str = "model"

    def load(self, dtype: str, progress: Progress | None = None) -> Prepared | None:
        """The prepared model, or None when there is no usable file (then load it in full and `save`)."""
        folder = self.folder(progress)
        path = prepared_path(folder, dtype)
        if not path.is_file():
            return None
        report_progress(progress, f"loading {self.label}", None)
        try:
            from assistant.local.chat_tokenizer import ChatTokenizer

            runner, stop_ids = read_prepared(path)
            tokenizer = ChatTokenizer(folder)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.warning("ignoring the prepared weights in %s (%s); loading the model in full", path, exc)
            return None
        if measured_while_busy(getattr(runner, "plan", None)):
            report_progress(progress, f"measuring {self.label}'s kernels again (the last time the CPU was busy)", None)
            log.info("the kernel plan in %s was measured while %d other tasks ran; measuring it again now "
                     "that the CPU is free", path, runner.plan.others_running)
            return None
        report_progress(progress, f"loaded {self.label}", 1.0)
        return Prepared(runner, tokenizer, stop_ids)

    def save(self, runner: Any, stop_ids: frozenset[int], dtype: str) -> Path | None:
        """Keep `runner`'s weights for the next process; None when they cannot be kept (never fatal)."""
        try:
            path = prepared_path(self.folder(None), dtype)
            if getattr(runner, "plan", None) is not None and _was_busy(plan_in(path)):
                runner.plan = dataclasses.replace(runner.plan, second_look=True)  # measured again once, not at every start
            write_prepared(runner, stop_ids, path)
            _remove_outdated(path, dtype)
        except TypeError as exc:  # a kernel with no saveable form (dtype "int8"): expected, not a fault
            log.debug("prepared weights not kept: %s", exc)
            return None
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("could not keep the prepared weights (%s); the next start loads the model in full", exc)
            return None
        return path


def measured_while_busy(plan: Any) -> bool:
    """A kernel plan timed while other work held every CPU, on a start when they are free: measure
    it again, once (the new plan is saved over the old with `second_look`, so a machine that is
    never quiet does not pay a full load at every start). Timings taken under load say little about
    the quiet machine: one measured on this project's 2-core box at load 15 chose one thread and
    bf16 kernels, and decoded at 12 tokens/s."""
    from assistant.local.cpu import others_running

    return _was_busy(plan) and not plan.second_look and others_running() == 0


def _was_busy(plan: Any) -> bool:
    if plan is None:
        return False
    return plan.others_running >= int((plan.cpu or {}).get("usable_cpus") or 1)


def plan_in(path: Path) -> Any:
    """The kernel plan saved in a prepared file (its header only), or None."""
    from safetensors import SafetensorError, safe_open

    from assistant.local.tuning import KernelPlan

    try:
        with safe_open(str(path), framework="pt") as file:
            plan = json.loads((file.metadata() or {})[_META_KEY]).get("plan")
    except (OSError, SafetensorError, ValueError, KeyError):
        return None
    return KernelPlan.from_json(plan) if plan else None


def _remove_outdated(path: Path, dtype: str) -> None:
    """Delete the same dtype's prepared files for this CPU from an older torch or format: each is
    a few hundred MB that nothing will read again (files for another CPU capability are kept)."""
    from assistant.local.cpu import capability_key

    pattern = re.compile(rf"prepared-{re.escape(dtype)}-torch[^-]+-{re.escape(capability_key())}-v[^-]+\.safetensors")
    for old in path.parent.glob(f"prepared-{dtype}-*.safetensors"):
        if old != path and pattern.fullmatch(old.name):
            old.unlink(missing_ok=True)
            log.info("removed outdated prepared weights %s", old)


def prepared_path(folder: Path, dtype: str) -> Path:
    import torch

    from assistant.local.cpu import capability_key

    return folder / f"prepared-{dtype}-torch{torch.__version__}-{capability_key()}-v{FORMAT}.safetensors"


def write_prepared(runner: Any, stop_ids: frozenset[int], path: Path) -> None:
    """Write atomically; TypeError for a runner whose layers cannot be saved."""
    from safetensors.torch import save_file

    to_tensors = getattr(runner, "to_tensors", None)
    if to_tensors is None:
        raise TypeError(f"{type(runner).__name__} has no preparable weights")
    tensors, facts = to_tensors()
    facts["stop_ids"] = sorted(stop_ids)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(facts)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_prepared(path: Path) -> tuple[Any, frozenset[int]]:
    from safetensors import SafetensorError, safe_open

    from assistant.local.decoding import LlamaRunner

    try:
        with safe_open(str(path), framework="pt") as file:
            facts = json.loads((file.metadata() or {})[_META_KEY])
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except SafetensorError as exc:
        raise ValueError(f"unreadable file: {exc}") from exc
    return LlamaRunner.from_tensors(tensors, facts), frozenset(int(i) for i in facts["stop_ids"])
