"""Choosing the chain for a request: explicit prefix > follow-up continuity > similarity.

    route(text, current)
      1. "/code rest"                      -> Route("coding", 1.0, "prefix", "rest")
      2. a short follow-up of `current`    -> Route(current, why="follow-up")
         unless a task-naming cue speaks for another route and similarity agrees; a follow-up
         that names another route's result ("update the intro" after an analysis) goes back
         to that route
      3. otherwise                         -> Route(best, softmax score, "similarity")

Prefixes: /write, /code, /analyze or /analyse, /chat, each route's own name (/coding), and any
prefix a plugin registers; case-insensitive; "/foo" that names no route is ordinary text.
Empty or blank text routes to chat with why="default" and score 0.0 (no exception: a UI may send
whatever was typed); a bare prefix ("/code") is a prefix route with empty text.

Boundaries between the built-in chains (chains/examples/*.txt follow them):
- writing:  prose for a reader, made or reworked: emails, letters, essays, stories, poems, blog
  posts, cover letters, CVs, speeches, social posts, product copy, names and slogans; summaries
  of *text* (articles, emails, transcripts), proofreading, rewording, tone, translation. A blog
  post *about* Python, or a cover letter for a data-analyst job, is writing. All creative work is
  writing: scripts and screenplays of scenes ("a script of …"), roleplay, fan fiction, riddles,
  lyrics, characters, worlds, and tabletop or video-game content.
- coding:   the deliverable or the subject is code: writing, fixing, explaining, reviewing or
  running programs in any language, SQL, regexes, shell, build/CI config, tracebacks,
  algorithms, tooling (git, pip, docker). "Write a Python script / SQL query to ..." is coding
  although it starts with "write"; "analyze this code" is coding; questions about programming
  concepts ("explain what a Python decorator is") are coding.
- analysis: the answer comes out of data or numbers: CSV, Excel, tables, datasets, charts and
  plots, statistics, trends, forecasts, metrics, calculations and maths problems, spreadsheet
  formulas, statistics concepts (p-values, confidence intervals). Asking for the *result*
  ("plot sales by month") is analysis; asking for a *program* ("write a script that plots
  sales") is coding. "Summarise this dataset" is analysis; "summarise this article" is writing.
  A question about data is analysis even when it names a model or a method ("train a classifier
  on the passenger data and report its accuracy").
- chat:     conversation and general knowledge: greetings, thanks, small talk, history,
  geography, science, health, food, travel, everyday tech trouble ("my laptop won't turn on"),
  concepts outside the three domains, advice, recommendations, opinions, questions about the
  assistant. Facts that happen to be numbers ("what is the GDP of Japan?") are chat. A question
  about a subject (law, medicine, biology, physics, economics, history, a novel, a painting) is
  chat unless it asks for code, a document or an analysis of data — a physics question with a
  number in it too. A question about earlier turns ("what did we decide about the blog post?",
  "which poem did I like best?") is chat: memory answers it, even when it names a document. When
  the router is unsure between chat and a specialist, it answers chat (`SAFE_BELOW`, calibrated on
  cross-validated examples).

Similarity (bench/bench_routing.py measures it against plain 1-nearest-example):
- One query embedding. For "Instruction: <pasted payload>" only the instruction is embedded: the
  payload's topic says little about the task, its type (code, CSV rows, prose) is a cue below.
- kNN: per route, the mean of the top-3 cosine similarities to its example requests.
- A softmax-regression classifier over the example embeddings, fitted in numpy at warm-up
  (deterministic full-batch gradient descent from zeros, ~50 ms).
- Lexical cues (`routing_cues.CUES`): route-agnostic features such as "contains code", "asks for a script",
  "names a chart", "uses an editing verb". How much a cue speaks for each route is counted from
  the examples that fire it, so cues are evidence rather than overrides, and a plugin route's
  examples give it its share of the cues they contain ("translate" for a translation chain).
- The three are summed as logits; softmax(logits / CALIBRATION) is `Route.score`, with
  CALIBRATION fitted on cross-validated example predictions.

Pure given its inputs: same text, current route, examples and embedder give the same Route; no
model is called but the embedder. Example embeddings are cached under `cache_dir` as .npy files
keyed by a hash of the (embedded) examples and the embedder's identity and width.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import numpy as np

    from memory.embeddings import Embedder

from assistant.routing_cues import cue_vector, instruction, is_follow_up, referenced_route

log = logging.getLogger(__name__)

BUILTIN_ROUTES = ("writing", "coding", "analysis", "chat")
EXAMPLES_DIR = Path(__file__).parent / "chains" / "examples"

PREFIXES: Mapping[str, str] = {  # "/word" -> route, matched case-insensitively
    "write": "writing",
    "code": "coding",
    "analyze": "analysis",
    "analyse": "analysis",
    "chat": "chat",
}

TOP_K = 3                # neighbours averaged per route
KNN_TEMPERATURE = 0.1    # cosine units per logit
CUE_WEIGHT = 2.0         # logits per unit of cue evidence
CALIBRATION = 0.6        # divides the summed logits so that scores match observed accuracy
TASK_CUE = 1.5           # cues this strong name a task: they let a follow-up switch routes
FOLLOW_UP_PRIOR = 0.5    # a follow-up's score: this, plus the rest times the text's own fit
SAFE_ROUTE = "chat"      # where an unsure request goes: a general answer costs less than a wrong artifact
SAFE_BELOW = 0.7         # a specialist with less than this probability, chat the runner-up: chat
CACHE_VERSION = "routing-v1"   # bump when instruction() changes what gets embedded


@dataclass(frozen=True)
class Route:
    name: str                 # "writing" | "coding" | "analysis" | "chat" | a plugin chain's name
    score: float              # confidence in [0, 1]
    why: str = "similarity"   # "prefix" | "follow-up" | "similarity" | "default"
    text: str = ""            # the request with any prefix stripped


# -- prefixes and examples --------------------------------------------------------------------

_PREFIX_RE = re.compile(r"\s*/([A-Za-z][\w-]*)(?:[\s:,]+|$)(.*)", re.DOTALL)


def split_prefix(text: str, names: Iterable[str] | Mapping[str, str] = PREFIXES) -> tuple[str | None, str]:
    """("coding", "rest") for "/code rest"; (None, text) when there is no known prefix.

    `names` maps prefix words to routes, or is an iterable of route names: each is then its own
    prefix ("/translate") along with the built-in short forms pointing at it ("/code")."""
    if isinstance(names, Mapping):
        table = {word.lower(): route for word, route in names.items()}
    else:
        wanted = set(names)
        table = {word: route for word, route in PREFIXES.items() if route in wanted}
        table.update({name.lower(): name for name in wanted})
    match = _PREFIX_RE.match(text)
    route = table.get(match.group(1).lower()) if match else None
    if route is None:
        return None, text
    return route, match.group(2).strip()


def load_examples(directory: Path | None = None) -> dict[str, list[str]]:
    """Example requests per route from `<route>.txt`: one request a line, `#` comment lines,
    a literal backslash-n inside a line is a line break (for pasted code and data)."""
    directory = EXAMPLES_DIR if directory is None else Path(directory)
    examples: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        examples[path.stem] = [line.replace("\\n", "\n") for line in lines if line and not line.startswith("#")]
    if not examples:
        raise FileNotFoundError(f"no routing examples (*.txt) in {directory}")
    return examples


# -- the similarity model ---------------------------------------------------------------------

class _Model:
    """kNN + softmax regression over example embeddings, plus cue evidence; pure numpy."""

    def __init__(self, names: Sequence[str], vectors: Sequence["np.ndarray"], cues: Sequence["np.ndarray"]) -> None:
        import numpy as np

        self.names = tuple(names)
        self.vectors = [np.asarray(v, dtype=np.float32) for v in vectors]
        x = np.concatenate(self.vectors)
        y = np.concatenate([np.full(len(v), i) for i, v in enumerate(self.vectors)])
        self.weights, self.bias = _fit_softmax(x, y, len(self.names))
        # how often each cue fires in each route's examples, smoothed; rows: cues, cols: routes
        rates = np.stack([((c > 0).sum(0) + 0.5) / (len(c) + 1.0) for c in cues], axis=1)
        self.association = rates / rates.sum(1, keepdims=True)

    def logits(self, query: "np.ndarray", cue_strengths: "np.ndarray") -> "np.ndarray":
        import numpy as np

        knn = np.array([np.sort(v @ query)[-TOP_K:].mean() for v in self.vectors])
        linear = query @ self.weights + self.bias
        cues = CUE_WEIGHT * (cue_strengths @ self.association)
        return (knn / KNN_TEMPERATURE + linear + cues).astype(np.float64) / CALIBRATION

    def task_routes(self, cue_strengths: "np.ndarray") -> set[str]:
        """Routes that a fired task-naming cue (strength >= TASK_CUE) speaks for most."""
        fired = (cue_strengths >= TASK_CUE).nonzero()[0]
        return {self.names[int(self.association[i].argmax())] for i in fired}


def _fit_softmax(x: "np.ndarray", y: "np.ndarray", classes: int, steps: int = 300, rate: float = 2.0,
                 l2: float = 1e-3) -> tuple["np.ndarray", "np.ndarray"]:
    """Multinomial logistic regression by full-batch gradient descent from zeros (deterministic).
    Classes weigh equally however many examples each has: a plugin with 8 examples is no less
    likely a priori than a built-in chain with 140."""
    import numpy as np

    x = x.astype(np.float64)
    target = np.eye(classes)[y]
    balance = (1.0 / (np.bincount(y, minlength=classes)[y] * classes))[:, None]
    weights, bias = np.zeros((x.shape[1], classes)), np.zeros(classes)
    for _ in range(steps):
        grad = (_softmax(x @ weights + bias) - target) * balance
        weights -= rate * (x.T @ grad + l2 * weights)
        bias -= rate * grad.sum(0)
    return weights.astype(np.float32), bias.astype(np.float32)


def _softmax(z: "np.ndarray") -> "np.ndarray":
    import numpy as np

    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _safe_choice(names: Sequence[str], probs: "np.ndarray", below: float = SAFE_BELOW) -> str:
    """The most likely route, except that an unsure pick between a specialist and chat goes to chat.

    `SAFE_BELOW` is measured, not guessed: `assistant.routing_calibration` picks the threshold with the fewest cross-validated errors on the examples, counting a
    question sent to a specialist as twice as bad as a task sent to chat (a general question
    answered by the coding chain comes back as a code artifact; a task answered in chat can be
    asked again with its prefix)."""
    import numpy as np

    order = np.argsort(probs)[::-1]
    best = names[int(order[0])]
    if SAFE_ROUTE in names and best != SAFE_ROUTE and len(order) > 1 and names[int(order[1])] == SAFE_ROUTE \
            and float(probs[order[0]]) < below:
        return SAFE_ROUTE
    return best


# -- the router -------------------------------------------------------------------------------

class Router:
    """Routes requests to chains: explicit prefix > follow-up continuity > similarity."""

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        embedder: Embedder | None = None,
        *,
        cache_dir: Path | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        self._embedder = embedder
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        # given prefixes ("/analyze" or "analyze" -> route) extend the defaults, so /analyse stays
        given = {**PREFIXES, **(prefixes or {})}
        self._prefixes = {word.lstrip("/").lower(): route for word, route in given.items()}
        self._examples: dict[str, list[str]] = {}
        self._vectors: dict[str, np.ndarray] = {}   # route -> embedded examples, kept across add_route
        self._model: _Model | None = None
        self._lock = threading.Lock()
        for name, texts in examples.items():
            self._set_examples(name, texts)
        if not self._examples:
            raise ValueError("a Router needs at least one route with example requests")

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(self._examples)

    def add_route(self, name: str, examples: Sequence[str], prefix: str | None = None) -> None:
        """Add or replace a chain's route (plugins do this); `prefix="tr"` makes "/tr ..." pick it."""
        with self._lock:
            self._set_examples(name, examples)
            if prefix is not None:
                self._prefixes[prefix.lstrip("/").lower()] = name
            self._model = None

    def warm(self) -> None:
        """Embed the examples (or load them from the cache) and fit the classifier now."""
        self._fitted()

    def route(self, text: str, *, current: str | None = None) -> Route:
        """The route for `text`; `current` is the session's route so far, for follow-ups."""
        table = {name.lower(): name for name in self._examples}
        table.update((word, name) for word, name in self._prefixes.items() if name in self._examples)
        name, rest = split_prefix(text, table)
        if name is not None:
            return Route(name, 1.0, "prefix", rest)
        request = text.strip()
        if not request:
            return Route("chat" if "chat" in self._examples else self.routes[0], 0.0, "default", "")
        import numpy as np

        model = self._fitted()
        cues = np.array(cue_vector(request), dtype=np.float32)
        logits = model.logits(self._embed([instruction(request)])[0], cues)
        probs = _softmax(logits)
        best = model.names[int(np.argmax(probs))]
        switches = best != current and best in model.task_routes(cues)
        if current in model.names and is_follow_up(request) and not switches:
            target = referenced_route(request)
            target = target if target in model.names else current
            fit = float(probs[model.names.index(target)])
            return Route(target, round(FOLLOW_UP_PRIOR + (1 - FOLLOW_UP_PRIOR) * fit, 4), "follow-up", request)
        best = _safe_choice(model.names, probs)
        return Route(best, round(float(probs[model.names.index(best)]), 4), "similarity", request)

    # -- internals -----------------------------------------------------------------------------

    def _set_examples(self, name: str, texts: Sequence[str]) -> None:
        if isinstance(texts, str):
            raise TypeError(f"examples for {name!r} must be a sequence of requests, not one string")
        cleaned = [t.strip() for t in texts if t and t.strip()]
        if not name or not cleaned:
            raise ValueError(f"route {name!r} needs a name and at least one example request")
        self._examples[name] = cleaned
        self._vectors.pop(name, None)

    def _embedder_now(self) -> Embedder:
        if self._embedder is None:
            from memory.embeddings import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder_now().embed(list(texts))

    def _fitted(self) -> _Model:
        with self._lock:
            if self._model is None:
                import numpy as np

                names = list(self._examples)
                for name in names:
                    if name not in self._vectors:
                        self._vectors[name] = self._example_vectors(self._examples[name])
                cues = [np.array([cue_vector(t) for t in self._examples[n]], dtype=np.float32) for n in names]
                self._model = _Model(names, [self._vectors[n] for n in names], cues)
            return self._model

    def _example_vectors(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        heads = [instruction(t) for t in texts]
        path = self._cache_path(heads)
        if path is not None and path.exists():
            try:
                cached = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable routing cache %s: %s", path, exc)
            else:
                if cached.ndim == 2 and cached.shape[0] == len(heads):
                    return cached.astype(np.float32, copy=False)
        vectors = np.asarray(self._embed(heads), dtype=np.float32)
        if path is not None:
            _save_atomically(path, vectors)
        return vectors

    def _cache_path(self, heads: list[str]) -> Path | None:
        if self._cache_dir is None:
            return None
        embedder = self._embedder_now()
        kind = type(embedder)
        identity = getattr(embedder, "name", None) or f"{kind.__module__}.{kind.__qualname__}"
        digest = hashlib.sha256(f"{CACHE_VERSION}\0{identity}\0{getattr(embedder, 'dimensions', '?')}".encode())
        for head in heads:
            digest.update(b"\0" + head.encode("utf-8"))
        return self._cache_dir / f"routing-{digest.hexdigest()[:24]}.npy"


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """Write the .npy next to its final name, then rename: readers never see half a file."""
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, array, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:   # a read-only cache dir costs time, not correctness
        log.warning("could not write routing cache %s: %s", path, exc)
