"""Calibrating the router on its own examples: cross-validated predictions, and the threshold under
which an unsure pick between a specialist and chat goes to chat (`routing.SAFE_BELOW`; a test
checks that the constant is what this module picks for the shipped examples)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from assistant.routing import SAFE_ROUTE, _Model, _safe_choice, _softmax
from assistant.routing_cues import cue_vector, instruction

if TYPE_CHECKING:
    import numpy as np

    from memory.embeddings import Embedder


def cross_validated(examples: Mapping[str, Sequence[str]], embedder: "Embedder", folds: int = 5
                    ) -> tuple[tuple[str, ...], list[tuple[str, "np.ndarray"]]]:
    """(route names, [(true route, probabilities)]) for every example, each predicted by a model fitted
    on the other folds: what calibration is measured on."""
    import numpy as np

    names = tuple(examples)
    texts = {n: [t.strip() for t in examples[n] if t.strip()] for n in names}
    vectors = {n: np.asarray(embedder.embed([instruction(t) for t in texts[n]]), dtype=np.float32) for n in names}
    cues = {n: np.array([cue_vector(t) for t in texts[n]], dtype=np.float32) for n in names}
    out: list[tuple[str, np.ndarray]] = []
    for fold in range(folds):
        keep = {n: np.arange(len(texts[n])) % folds != fold for n in names}
        model = _Model(names, [vectors[n][keep[n]] for n in names], [cues[n][keep[n]] for n in names])
        for n in names:
            for i in np.nonzero(~keep[n])[0]:
                out.append((n, _softmax(model.logits(vectors[n][i], cues[n][i]))))
    return names, out


def calibrate_safe_below(names: Sequence[str], predictions: Sequence[tuple[str, "np.ndarray"]],
                         grid: Sequence[float] = tuple(x / 100 for x in range(30, 91, 5))) -> float:
    """The threshold for `_safe_choice` with the least cost on cross-validated predictions: a
    question (chat) sent to a specialist costs 2, any other miss 1; ties go to the lower value."""
    def cost(below: float) -> float:
        total = 0.0
        for truth, probs in predictions:
            guess = _safe_choice(names, probs, below)
            if guess != truth:
                total += 2.0 if truth == SAFE_ROUTE else 1.0
        return total

    return min(grid, key=lambda below: (cost(below), below))
