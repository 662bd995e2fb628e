"""Recipes: the bundled models' training as files, run end to end as one command."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lpr_edge.cli import main
from lpr_edge.train import recipe

from .test_finetune import br_folder


def test_the_shipped_recipes_are_the_bundled_models_training(tmp_path):
    us = recipe.plan(recipe.load("us"), {"real": "crops"}, tmp_path)
    (scratch, [first]), (finetune, runs) = us
    assert (first.widths, first.head, first.steps, first.ema, first.augment) == ("48,96,144", 256, 6000, 0.998, "world")
    assert (first.synth_graphics, first.synth_stroke_fonts, first.synth_plain_ones) == (0.3, 0.25, 0.3)
    assert [r.seed for r in runs] == [3, 4] and {r.init for r in runs} == {str(tmp_path / "scratch_s0" / "last.pt")}
    assert all((r.steps, r.lr, r.real) == (3000, 1e-3, "crops") for r in runs)
    ((stage, runs),) = recipe.plan(recipe.load("br"), {"real": "crops", "relabel": "fixes.csv"}, tmp_path)
    assert [r.seed for r in runs] == [0, 1, 2] and {r.init for r in runs} == {"us"}
    assert all((r.steps, r.synth_plate_o, r.real_fraction, r.relabel) == (1600, 0.5, 0.5, "fixes.csv") for r in runs)
    # the command line overrides every stage; --seed leaves one run per stage, --init the outside start
    ((_, [one]),) = recipe.plan(recipe.load("br"), {"seed": 7, "init": "other.onnx", "steps": 20, "real": ""},
                                tmp_path)
    assert (one.seed, one.init, one.steps) == (7, "other.onnx", 20)


def test_recipe_help_shows_its_stages(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--recipe", "us", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "stage scratch, seed 0: --augment world" in shown and "stage finetune from scratch, seeds 3, 4" in shown
    assert main(["train", "--recipe", "nope"]) == 2
    assert "no such recipe; the shipped ones are br, us" in capsys.readouterr().err


def test_a_recipe_runs_every_stage_and_resumes(tmp_path, capsys):
    argv = ["train", "--recipe", "us", "--data", "", "--seed", "0", "--steps", "5", "--batch", "4", "--widths",
            "8,16,16", "--head", "16", "--threads", "1", "--workers", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    said = capsys.readouterr().out
    scratch = json.loads((tmp_path / "scratch_s0" / "summary.json").read_text())
    finetune = json.loads((tmp_path / "finetune_s0" / "summary.json").read_text())
    assert scratch["steps"] == finetune["steps"] == 5
    assert finetune["args"]["init"] == str(tmp_path / "scratch_s0" / "last.pt")
    assert finetune["args"]["widths"] == "8,16,16"  # what trained: the start's network
    assert (tmp_path / "unframed.onnx").is_file() and "keeps its first readings" in said
    assert main(argv) == 0  # the same command again: nothing trains twice
    assert capsys.readouterr().out.count("finished already") == 2


@pytest.mark.slow
def test_a_recipe_fits_the_framing_of_what_it_trained(tmp_path):
    """The Brazilian recipe for a few steps on synthetic Brazilian crops: the averaged export of its runs
    comes out with a framing fitted on the data's training side."""
    from lpr_edge.formats.onnx_spec import load_onnx, spec_from_model

    folder = br_folder(tmp_path, n=120)
    br = recipe.load("br")
    quick = dataclasses.replace(br, framing={})  # no synthetic loose crops: seconds, not a minute
    given = {"real": str(folder), "steps": 5, "batch": 8, "threads": 1, "workers": 0, "out": str(tmp_path / "run")}
    stages = recipe.plan(quick, {**given, "out": None}, Path(given["out"]))
    assert len(stages[-1][1]) == 3  # three seeds, averaged
    model = recipe.run(quick, given, say=lambda message: None)
    assert model == tmp_path / "run" / "model.onnx"
    spec = spec_from_model(load_onnx(model))
    assert spec.name == "lprnet_br" and spec.framing and spec.framing["spans"]
