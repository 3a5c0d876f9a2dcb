"""A decoded token's attention block compiled for this CPU (attention.c), where a C compiler is found.

torch scores one query row against the cache with two batched products and a softmax; on the
shapes of a small model (3 kv heads of 64, ~1000 cached tokens) those reach a quarter of the memory
bandwidth, and a 1200-token context made attention a third of a token's time (AMD EPYC, 2 vCPUs:
a token 15.8 ms with torch's attention, 10.6 ms compiled). Around it, a layer made ~30 small torch
calls (rotary, cache writes, norms) of a few microseconds each; the compiled block makes them 3.
Whether it wins is measured with the kernel plan (`assistant.local.tuning.with_measured_attention`),
not assumed.

The file is compiled with `-march=native` for the model's shape (query heads per kv head, head
size) into the user cache (~0.3 s once; a later process only loads it), under a name that carries
the source, the compiler and the CPU's flags: a cache shared between machines never loads code
built for another CPU. No compiler, or a failed build, means torch's attention, as before; the
reason is logged once.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLOCK = 32  # key rows per tile: attention.c's BLOCK
LANES = 16  # floats per vector in attention.c: a head's size must be a multiple
SOURCE = Path(__file__).with_name("attention.c")
COMPILE_TIMEOUT_S = 60

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NativeAttention:
    """attention.c's `decode_step` and `rms_norm`, built for `group` query heads per kv head of `dim` floats."""

    group: int
    dim: int
    library: Path
    _step: Any
    _rms_norm: Any

    def step(self, qkv: int, cos: int, sin: int, keys: int, tiles: int, values: int, out: int, scores: int,
             kv_heads: int, capacity: int, position: int, scale: float) -> None:
        """One decoded token's attention block after its qkv product (rotary, cache writes, attention),
        on addresses: the caller computes them once a token, not through a tensor view a layer
        (see attention.c's `decode_step` for the layouts)."""
        self._step(qkv, cos, sin, keys, tiles, values, out, scores, kv_heads, capacity, position, scale)

    def rms_norm(self, x: Any, weight: Any, out: Any, eps: float) -> Any:
        """F.rms_norm over the last dimension of contiguous float32 `x`, into `out`."""
        n = x.shape[-1]
        self._rms_norm(x.data_ptr(), weight.data_ptr(), out.data_ptr(), x.numel() // n, n, eps)
        return out


def padded(capacity: int) -> int:
    """`capacity` rounded up to whole tiles."""
    return -(-max(1, capacity) // BLOCK) * BLOCK


@functools.cache
def load(group: int, dim: int) -> NativeAttention | None:
    """The compiled attention for this shape, building it on first use; None where it cannot be built."""
    if dim % LANES or group < 1:
        return None
    compiler = _compiler()
    if compiler is None:
        log.info("compiled attention unavailable: no C compiler found (set CC); using torch's")
        return None
    try:
        library = _build(compiler, group, dim)
        compiled = ctypes.CDLL(str(library))
        functions = compiled.decode_step, compiled.rms_norm
    except (OSError, AttributeError, subprocess.SubprocessError) as exc:
        log.warning("compiled attention unavailable (%s); using torch's", _first_line(exc))
        return None
    pointer, integer, size, real = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_float
    signatures = ([pointer] * 8 + [integer, size, size, real], [pointer] * 3 + [size, size, real])
    for function, argtypes in zip(functions, signatures):
        function.restype, function.argtypes = None, argtypes
    return NativeAttention(group, dim, library, *functions)


def _compiler() -> list[str] | None:
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        words = shlex.split(candidate) if candidate else []
        if words and shutil.which(words[0]):
            return words
    return None


def _build(compiler: list[str], group: int, dim: int) -> Path:
    from assistant.local.bundled import cache_dir

    binary = Path(shutil.which(compiler[0]) or compiler[0]).resolve()
    stat = binary.stat()  # which compiler, without running it (a process start costs ~10 ms a load)
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(compiler), f"{binary} {stat.st_size} {stat.st_mtime_ns}", _cpu_flags()):
        key.update((part if isinstance(part, bytes) else part.encode()) + b"\0")
    folder = cache_dir() / "kernels"
    library = folder / f"attention-g{group}-d{dim}-{key.hexdigest()[:16]}.so"
    if library.is_file():
        return library
    folder.mkdir(parents=True, exist_ok=True)
    tmp = library.with_name(f".{library.name}.tmp-{os.getpid()}")
    command = [*compiler, "-O3", "-march=native", "-shared", "-fPIC", f"-DG={group}", f"-DDIM={dim}",
               "-o", str(tmp), str(SOURCE), "-lm"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        if done.returncode != 0:
            raise OSError(f"{compiler[0]} failed: {done.stderr.strip() or done.returncode}")
        os.replace(tmp, library)  # whole or absent: another process may be loading it
    finally:
        tmp.unlink(missing_ok=True)
    log.info("compiled attention for %d heads per kv head of %d into %s", group, dim, library)
    return library


def _cpu_flags() -> str:
    """What -march=native compiled for: the CPU's model and flags (the machine's name elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features", "CPU part"))]
    return "\n".join(dict.fromkeys(lines))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
