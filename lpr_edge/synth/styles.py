"""What is drawn on synthetic plates beyond their layout's basics, as one value.

Each style is the share of plates that get it (0 = off, and then it draws nothing from the
generator, so every other plate of a seed stays byte-identical). A new style is one field here
(with the layout it applies to), its drawing code in ``plates.py`` and its ``lpr-edge train
--synth-...`` option; rendering and the option's checks take it from this table.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _style(layout: str, tag: str):
    return field(default=0.0, metadata={"layout": layout, "tag": tag})


@dataclass(frozen=True)
class PlateStyles:
    """Shares of synthetic plates drawn with each style (``render``, ``synth_pool``)."""

    emblems: bool = False  # US: often an emblem or separator in the gap between character groups
    graphics: float = _style("us", "graphics")  # a printed picture beside or behind the characters
    stroke_fonts: float = _style("us", "stroke")  # characters in a thick Hershey stroke font
    plain_ones: float = _style("us", "plain1")  # of plates with a 1: the 1 a plain bar
    plate_o: float = _style("br", "plateo")  # Brazilian plate font's narrow O

    @staticmethod
    def shares() -> tuple[dataclasses.Field, ...]:
        """The share fields (each with ``metadata`` layout)."""
        return tuple(f for f in dataclasses.fields(PlateStyles) if f.metadata)
