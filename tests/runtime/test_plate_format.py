"""A region's plate format as a prior: look-alike swaps, bounded confidences, misfits rejected."""
from __future__ import annotations

import pytest

from lpr_edge.errors import InputError
from lpr_edge.runtime.decode import PlateResult
from lpr_edge.runtime.plate_format import PlateFormat


def reading(text: str, *confs: float) -> PlateResult:
    confs = confs or (0.9,) * len(text)
    product = 1.0
    for c in confs:
        product *= c
    return PlateResult(text, product, tuple(confs))


def test_look_alikes_are_swapped_to_the_kind_the_format_wants():
    br = PlateFormat.parse("br")
    assert br.patterns == ("LLL9999", "LLL9L99")
    assert br.fit(reading("N2F0384")).text == "NZF0384"      # a digit where a letter goes
    assert br.fit(reading("ANIO965")).text == "ANI0965"      # a letter where a digit goes
    assert br.fit(reading("PJ17589")).text == "PJI7589"
    assert br.fit(reading("ABC1D23")).text == "ABC1D23"      # Mercosul: fits its own pattern as read
    assert br.fit(reading("OZV6697")).text == "OZV6697"      # fits: nothing to do (O and D are both letters)


def test_the_swapped_character_is_bounded_by_what_the_top_class_left():
    fixed = PlateFormat.parse("LLL9999").fit(reading("N2F0384", 0.9, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9))
    assert fixed.char_confidences[1] == pytest.approx(0.2)   # p(Z) <= 1 - p(2)
    assert fixed.confidence == pytest.approx(0.2 * 0.9 ** 6)


def test_a_reading_that_cannot_fit_keeps_its_text_with_no_confidence():
    br = PlateFormat.parse("br")
    short = br.fit(reading("JT2905", 0.97, 0.99, 0.99, 0.99, 0.99, 0.99))
    assert (short.text, short.confidence) == ("JT2905", 0.0)
    no_look_alike = br.fit(reading("AB71234"))               # 7 has no letter look-alike
    assert (no_look_alike.text, no_look_alike.confidence) == ("AB71234", 0.0)
    assert br.fit(PlateResult("", 0.0, ())).text == ""


@pytest.mark.parametrize("bad", ["", "LLX999", "us", "L|"])
def test_unknown_formats_are_refused_with_the_syntax(bad):
    with pytest.raises(InputError, match="patterns of L"):
        PlateFormat.parse(bad)


def test_recognizer_refuses_a_format_that_is_not_one():
    from lpr_edge import Recognizer

    with pytest.raises(InputError, match="plate_format must be"):
        Recognizer("br", plate_format=7)
