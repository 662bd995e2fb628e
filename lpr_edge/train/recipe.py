"""Training recipes: the bundled models' training as files (``recipes/<name>.json``), run as one command.

A recipe is a chain of stages. Each stage trains one run per seed with the options it names
(:class:`~lpr_edge.train.options.TrainOptions` fields); a stage may start from an earlier stage's run
(``"init": "scratch"``) or from a model (``"init": "us"``). The last stage's runs are exported to one
ONNX model (the weight average where there are several), and its framing is fitted, so the result reads
loose crops again as the bundled models do::

    lpr-edge train --recipe us --data ../shared/data/openalpr-us-states --out runs/us

Flags given on the command line override the recipe in every stage (``--steps 20`` for a smoke run;
``--seed N``: one run of seed N per stage; ``--init M``: the start of the stages that do not start from
an earlier stage). Re-running the same command resumes: finished runs are kept, an unfinished one goes
on from its ``last.pt``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .options import TrainOptions

RECIPES = Path(__file__).with_name("recipes")


@dataclass(frozen=True)
class Stage:
    """One stage: a run per seed with ``options``, started from ``init`` (an earlier stage or a model)."""

    name: str
    seeds: tuple[int, ...]
    options: dict
    init: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    stages: tuple[Stage, ...]
    framing: dict  # ``lpr-edge framing`` options for the result (synth_layout)


def names() -> list[str]:
    """The recipes shipped in the package."""
    return sorted(p.stem for p in RECIPES.glob("*.json"))


def load(name: str) -> Recipe:
    """A shipped recipe by name, checked against the training options."""
    path = RECIPES / f"{name}.json"
    if not path.is_file():
        raise InputError(f"--recipe {name}: no such recipe; the shipped ones are {', '.join(names())}")
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    stages = []
    for raw in data["stages"]:
        unknown = sorted(set(raw["options"]) - fields)
        if unknown:
            raise InputError(f"recipe {name}, stage {raw['name']}: unknown options {unknown}")
        stages.append(Stage(raw["name"], tuple(raw["seeds"]), dict(raw["options"]), raw.get("init")))
    return Recipe(name, data["description"], tuple(stages), dict(data.get("framing", {})))


def describe(recipe: Recipe) -> str:
    """The recipe as its stages' flags (what ``lpr-edge train --recipe NAME --help`` shows)."""
    lines = [f"recipe {recipe.name}: {recipe.description}."]
    for stage in recipe.stages:
        flags = " ".join(f"--{k.replace('_', '-')} {v if v != '' else repr(v)}" for k, v in stage.options.items())
        start = f" from {stage.init}" if stage.init else ""
        seeds = ", ".join(map(str, stage.seeds))
        lines.append(f"  stage {stage.name}{start}, seed{'s' if len(stage.seeds) > 1 else ''} {seeds}: {flags}")
    average = "the weight average of the last stage's runs" if len(recipe.stages[-1].seeds) > 1 else "the last run"
    layout = recipe.framing.get("synth_layout")
    lines.append(f"  then {average} exported to OUT/model.onnx, its framing fitted on --data"
                 + (f" with --synth-layout {layout}" if layout else ""))
    lines.append("Flags given here override the recipe in every stage (--seed N: one run of seed N per stage).")
    return "\n".join(lines)


def plan(recipe: Recipe, given: dict, out: Path) -> list[tuple[Stage, list[TrainOptions]]]:
    """The options of every run, stage by stage (all checked before anything trains)."""
    shared = {k: v for k, v in given.items() if k not in ("out", "seed", "init")}
    done: dict[str, list[TrainOptions]] = {}
    stages = []
    for stage in recipe.stages:
        init = stage.init
        if init in done:  # an earlier stage's run
            if len(done[init]) != 1:
                raise InputError(f"recipe {recipe.name}: stage {stage.name} starts from stage {init}, which has "
                                 f"{len(done[init])} runs; give --seed N for one run per stage")
            init = str(Path(done[init][0].out) / "last.pt")
        elif "init" in given:
            init = given["init"]
        runs = []
        for seed in [given["seed"]] if "seed" in given else stage.seeds:
            opts = TrainOptions(**{**stage.options, **shared}, init=init, seed=seed,
                                out=str(out / f"{stage.name}_s{seed}"))
            opts.check()
            runs.append(opts)
        done[stage.name] = runs
        stages.append((stage, runs))
    return stages


def _finished(opts: TrainOptions) -> bool:
    summary = Path(opts.out) / "summary.json"
    return summary.is_file() and json.loads(summary.read_text(encoding="utf-8")).get("steps") == opts.steps


def run(recipe: Recipe, given: dict, say: Callable[[str], None] = print) -> Path:
    """Train every stage, export the last stage's runs and fit the framing; returns the model's path."""
    from .export import export_onnx
    from .loop import train

    out = Path(given.get("out") or f"runs/{recipe.name}")
    stages = plan(recipe, given, out)
    for stage, runs in stages:
        for opts in runs:
            if _finished(opts):
                say(f"stage {stage.name}, seed {opts.seed}: finished already ({opts.out})")
                continue
            say(f"stage {stage.name}, seed {opts.seed}: training {opts.steps} steps into {opts.out}")
            train(opts)
    last = [Path(opts.out) / "last.pt" for opts in stages[-1][1]]
    unframed = out / "unframed.onnx"
    report = export_onnx(last, unframed, check_images=_check_crops(stages[-1][1][0]))
    say(f"exported {'the weight average of ' + str(len(last)) + ' runs' if len(last) > 1 else last[0]} to "
        f"{unframed} (ONNX Runtime vs PyTorch: argmax equal {report['argmax_equal']:.4f})")
    data = stages[-1][1][0].real
    if not data:
        say("no --data: the framing is fitted on labelled crops, so the model keeps its first readings")
        return unframed
    from ..toolchain.framing import frame_model

    model = out / "model.onnx"
    opts = stages[-1][1][0]
    fit = frame_model(unframed, data, model, relabel=opts.relabel, threads=opts.threads,
                      synth_layout=recipe.framing.get("synth_layout"), say=lambda m: say(m + " ..."))
    say(f"framing: margin {fit.framing['margin']:g}, pad {fit.framing['pad']}"
        + (f", re-read below {fit.framing['reread_below']:g}" if fit.framing.get("reread_below") else "")
        + f"; wrote {model}")
    return model


def _check_crops(opts: TrainOptions) -> list:
    """64 synthetic plates of the run's layout: the export is always checked against PyTorch."""
    import numpy as np

    from .. import synth

    rng = np.random.default_rng(2027)
    return [synth.render(rng, opts.synth_layout).image for _ in range(64)]
