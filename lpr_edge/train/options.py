"""Training options: one typed record, from which the CLI flags are made (kept free of PyTorch so
the CLI can list them without it)."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from ..errors import InputError

ENSEMBLE_COMBINERS = ("select", "mean")  # how a prediction ensemble's members make one reading (export)


def _opt(default, help: str = "", *, flags: tuple[str, ...] = (), choices: tuple = (), metavar: str | None = None,
         layout: str | None = None):
    return field(default=default, metadata={"help": help, "flags": flags, "choices": choices, "metavar": metavar,
                                            "layout": layout})


def _share(layout: str, what: str):
    """A plate style's option (``lpr_edge.synth.PlateStyles``): the share of synthetic plates drawn so."""
    return _opt(0.0, f"with --synth-layout {layout}: share of synthetic plates {what}; 0 = off", metavar="SHARE",
                layout=layout)


@dataclass
class TrainOptions:
    """Everything a training run depends on (``lpr-edge train --help`` lists the same)."""

    out: str = _opt("runs/lprnet_us", "run folder (checkpoints, log, split)")
    real: str | None = _opt(None, "labelled real plates (required): a labels.csv folder or label-named images, split "
                            "by plate into train/val; '' to train on synthetic plates alone",
                            flags=("--data", "--real"), metavar="DIR")
    init: str | None = _opt(None, "start from a trained model: a bundled name (us), an lpr-edge .onnx export or a "
                            ".pt checkpoint (fine-tuning); default: train from scratch", metavar="MODEL")
    relabel: str | None = _opt(None, "label corrections for --data (file,text,note CSV; empty text leaves the crop "
                               "out), applied after the split: both sides train and validate on the corrected "
                               "labels", metavar="FIXES.csv")
    charset: str | None = _opt(None, "symbols of the new model in class order, blank last (default: the --init "
                               "model's, else the US set 0-9A-Z without O)")
    label_map: str | None = _opt(None, "label normalisation, e.g. O=0 ('' for none; default: the --init model's "
                                 "where its symbols still exist)", metavar="A=B,...")
    freeze: str = _opt("none", "layers kept fixed when fine-tuning: stem (stem + first stage) or the whole backbone",
                       choices=("none", "stem", "backbone"))
    name: str | None = _opt(None, "model name in the spec (default: from --init, else lprnet_us)")
    synth_layout: str = _opt("us", "synthetic plate layout", choices=("us", "br"))
    synth_plate_o: float = _share("br", "whose O is drawn as the plate font draws it (a narrow rounded rectangle, "
                                  "close to D) instead of the font's round O")
    synth_graphics: float = _share("us", "with a printed picture beside or behind the characters (tree, bird, "
                                   "building, mountains...), not to be read")
    synth_stroke_fonts: float = _share("us", "whose characters are drawn in a thick Hershey stroke font (OpenCV's; "
                                       "monoline glyphs like many embossed US plates) instead of a TrueType face")
    synth_plain_ones: float = _share("us", "(of those with a 1) whose 1 is a plain bar, as a sans face draws its I "
                                     "(as Massachusetts plates draw their 1)")
    augment: str = _opt("camera", "camera: camera effects and 0-15%% margins (the v3 recipe); world: also loose "
                        "detector crops (0-30%% per side) with car body, frame and dealer text, border marks, "
                        "emblems, stickers, night/IR/glare", choices=("camera", "world"))
    train_plates: int = _opt(0, "use only this many distinct plates of the training side (seeded; learning "
                             "curves); 0 = all")
    steps: int = _opt(4500, "optimiser steps")
    batch: int = _opt(64, "plates per step")
    lr: float = _opt(2e-3, "peak learning rate (one-cycle schedule)")
    synth: int = _opt(20000, "size of the synthetic plate pool")
    real_fraction: float = _opt(0.4, "share of real plates in each batch")
    seed: int = _opt(0, "seed of the pool, the stream and the initialisation")
    threads: int = _opt(0, "torch threads (0: all cores)")
    workers: int = _opt(1, "data loader processes")
    widths: str = _opt("32,64,96", "channels of the three stages")
    head: int = _opt(192, "channels of the sequence head")
    ema: float = _opt(0.0, "keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                      "export it; 0 = off")
    eval_every: int = _opt(500, "steps between validations")
    device: str = _opt("cpu", "where to train: cpu, cuda (a GPU), or auto (cuda when PyTorch sees one)",
                       choices=("cpu", "cuda", "auto"))

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> "TrainOptions":
        return cls(**cls.given(ns))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def given(ns: argparse.Namespace) -> dict:
        """The options a parsed command line gives (flags left out are not in it)."""
        names = {f.name for f in dataclasses.fields(TrainOptions)}
        return {k: v for k, v in vars(ns).items() if k in names}

    def check(self) -> None:
        """Refuse values no run can use, before anything is written (one line naming the flag)."""
        if self.real is None:
            raise InputError("--data DIR is required: a labels.csv folder of real crops (or '' to train on "
                             "synthetic plates alone)")
        if self.steps < 5:
            raise InputError(f"--steps {self.steps}: train for at least 5 steps")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise InputError(f"--real-fraction {self.real_fraction}: give a share 0 to 1")
        why = {"br": "the plate glyphs are the Brazilian plate font's", "us": "drawn on US-like plates"}
        for f in dataclasses.fields(self):
            if f.metadata["layout"]:
                share, layout = getattr(self, f.name), f.metadata["layout"]
                if not 0.0 <= share <= 1.0 or (share and self.synth_layout != layout):
                    raise InputError(f"--{f.name.replace('_', '-')} {share}: give a share 0 to 1 together with "
                                     f"--synth-layout {layout} ({why[layout]})")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The training options as flags (shared by ``lpr-edge train`` and ``python -m lpr_edge.train``).

    Flags not given stay out of the parsed namespace (``TrainOptions`` fills in its defaults), so a
    recipe can tell what the command line overrides."""
    for f in dataclasses.fields(TrainOptions):
        meta = f.metadata
        flags = meta["flags"] or ("--" + f.name.replace("_", "-"),)
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": meta["help"] or None}
        if f.type in ("bool",):
            p.add_argument(*flags, action="store_true", **kwargs)
            continue
        if f.type in ("int", "float"):
            kwargs["type"] = int if f.type == "int" else float
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        p.add_argument(*flags, **kwargs)
