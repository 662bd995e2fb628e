from __future__ import annotations

import onnx
import pytest

from lpr_edge.errors import SpecError
from lpr_edge.formats.onnx_spec import load_onnx, read_model_spec, spec_from_model, validate_spec
from lpr_edge.spec import PRESETS, ModelSpec, preset

from ..conftest import build_toy_model, toy_spec


def test_presets_are_consistent():
    us = preset("tao-us")
    got = (us.input_name, us.input_shape, us.color, us.blank, us.num_classes)
    assert got == ("image_input", (3, 48, 96), "RGB", 35, 36)
    assert "O" not in us.charset and us.normalise_label("no218") == "N0218"
    assert preset("tao-cn").num_classes == 68
    lp = preset("lprnet-pytorch")
    got = (lp.color, lp.logits_layout, lp.time_steps, lp.class_symbols[67], lp.class_symbols[65:67])
    assert got == ("BGR", "NCT", 18, "", ["I", "O"])
    for p in PRESETS.values():
        assert ModelSpec.from_json(p.to_json()) == p


def test_bad_specs_are_named():
    with pytest.raises(SpecError, match="blank index"):
        ModelSpec(charset="AB", blank=5)
    with pytest.raises(SpecError, match="color"):
        ModelSpec(color="HSV")
    with pytest.raises(SpecError, match="unknown model spec keys"):
        ModelSpec.from_dict({"nme": "x"})
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json("{")
    with pytest.raises(SpecError, match="unknown spec preset"):
        preset("tao-eu")


def test_spec_round_trips_through_onnx(tmp_path):
    spec = toy_spec()
    path = tmp_path / "m.onnx"
    onnx.save(build_toy_model(spec), path)
    assert spec_from_model(load_onnx(path)) == spec
    assert read_model_spec(path) == spec


@pytest.mark.parametrize("change, message", [
    ({"input_name": "data"}, "input 'data' not in graph"),
    ({"height": 24}, "input 'image' has shape"),
    ({"charset": "ABCD"}, "4 symbols"),
    ({"time_steps": 9}, "9"),
    ({"outputs": ("probs",)}, "output 'probs' not in graph"),
])
def test_validation_catches_mismatch(change, message):
    model = build_toy_model(toy_spec(), embed=False)
    bad = toy_spec().replace(**change)
    with pytest.raises(SpecError, match=message):
        validate_spec(model, bad)


def test_argmax_heads_validate_and_nct_vs_ntc():
    validate_spec(build_toy_model(toy_spec("argmax_max")), toy_spec("argmax_max"))
    ntc = toy_spec(layout="NTC")
    validate_spec(build_toy_model(ntc), ntc)
    with pytest.raises(SpecError):  # NTC graph read as NCT: 4 classes vs 8 steps swap
        validate_spec(build_toy_model(ntc), toy_spec(layout="NCT"))


def test_model_without_spec_needs_a_preset(tmp_path):
    path = tmp_path / "bare.onnx"
    onnx.save(build_toy_model(toy_spec(), embed=False), path)
    with pytest.raises(SpecError, match="carries no lpr-edge spec"):
        read_model_spec(path)
    with pytest.raises(SpecError, match="does not fit"):
        read_model_spec(path, preset_name="tao-us")
    assert read_model_spec(path, spec=toy_spec()).name == "toy"
