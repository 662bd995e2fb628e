"""A region's plate format as a prior on the reading: letters where the format has letters, digits
where it has digits.

The network reads each character on its own, so on a format like Brazil's ``LLL9999`` it can read
``N2F0384`` (``Z`` as ``2``) or ``ANIO965`` (``0`` as ``O``). When a reading has a format's length
and differs from it only by such look-alikes, each misfit character is swapped for its look-alike
of the right kind, as ALPR post-processing commonly does. Best-path decoding only keeps the top
class per step, so the swapped character's own probability is unknown; it is bounded by
``1 - p(top class)``, and that bound is its confidence, so a repaired reading never looks surer than
it can be. A reading that fits no pattern (wrong length, or a misfit with no look-alike) keeps its
text and gets confidence 0, as an empty reading does, so ``min_confidence`` rejects it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import InputError
from .decode import PlateResult

# Pattern letters: L a letter, 9 a digit; several patterns separated by "|".
NAMED_FORMATS = {
    "br": "LLL9999|LLL9L99",  # Brazil: the old grey/red plates and Mercosul plates
}
# Look-alikes across the two kinds, as plate fonts draw them.
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}
TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}


@dataclass(frozen=True)
class PlateFormat:
    """One or more fixed-length patterns (``L`` letter, ``9`` digit)."""

    patterns: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "PlateFormat":
        """A named format (``br``) or patterns such as ``LLL9999|LLL9L99``."""
        spec = NAMED_FORMATS.get(text.strip().lower(), text.strip())
        patterns = tuple(spec.split("|"))
        if any(not re.fullmatch(r"[L9]+", p) for p in patterns):
            raise InputError(f"plate format {text!r}: give a name ({', '.join(sorted(NAMED_FORMATS))}) or "
                             "patterns of L (letter) and 9 (digit) separated by |, e.g. LLL9999|LLL9L99")
        return cls(patterns)

    def fit(self, result: PlateResult) -> PlateResult:
        """``result`` with its look-alikes swapped to fit the pattern needing fewest swaps (unchanged if it
        fits as read; confidence 0 if it cannot fit)."""
        text = result.text
        best: tuple[int, str, tuple[float, ...]] | None = None
        for pattern in self.patterns:
            if len(pattern) != len(text):
                continue
            chars, confs, swaps = list(text), list(result.char_confidences), 0
            for i, (kind, ch) in enumerate(zip(pattern, text)):
                if (kind == "L") == ch.isalpha():
                    continue
                swap = (TO_LETTER if kind == "L" else TO_DIGIT).get(ch)
                if swap is None:
                    break
                chars[i], swaps = swap, swaps + 1
                if i < len(confs):
                    confs[i] = 1.0 - confs[i]
            else:
                if best is None or swaps < best[0]:
                    best = (swaps, "".join(chars), tuple(confs))
        if best is None:  # impossible under the format: keep the text, but no confidence to act on
            return PlateResult(text, 0.0, result.char_confidences) if result.confidence else result
        if best[0] == 0:
            return result
        # per-character scores known: each swapped character's score becomes its bound, and the plate
        # confidence (a product or a posterior) is scaled by the same factors
        scaled = [new / old for old, new in zip(result.char_confidences, best[2]) if new != old]
        confidence = result.confidence * math.prod(scaled) if len(best[2]) == len(text) else result.confidence
        return PlateResult(best[1], confidence, best[2])

    def fit_all(self, results: Sequence[PlateResult]) -> list[PlateResult]:
        """:meth:`fit` for each result, in order."""
        return [self.fit(r) for r in results]
