"""Training options: one typed record, from which the CLI flags are made (kept free of PyTorch so
the CLI can list them without it)."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "openalpr-us-states"


def _opt(default, help: str = "", *, flags: tuple[str, ...] = (), choices: tuple = (), metavar: str | None = None):
    return field(default=default, metadata={"help": help, "flags": flags, "choices": choices, "metavar": metavar})


def _share(layout: str, what: str):
    """A plate style's option (``lpr_edge.synth.PlateStyles``): the share of synthetic plates drawn so."""
    return _opt(0.0, f"with --synth-layout {layout}: share of synthetic plates {what}; 0 = off", metavar="SHARE")


@dataclass
class TrainOptions:
    """Everything a training run depends on (``lpr-edge train --help`` lists the same)."""

    out: str = _opt("runs/lprnet_us", "run folder (checkpoints, log, split)")
    real: str = _opt(str(DEFAULT_REAL), "labelled real plates (labels.csv folder, split by plate into train/val); "
                     "'' for none", flags=("--real", "--data"))
    init: str | None = _opt(None, "start from a trained model: a bundled name (us), an lpr-edge .onnx export or a "
                            ".pt checkpoint (fine-tuning); default: train from scratch", metavar="MODEL")
    relabel: str | None = _opt(None, "label corrections for --data (file,text,note CSV; empty text leaves the crop "
                               "out), applied after the split: both sides train and validate on the corrected "
                               "labels", metavar="FIXES.csv")
    charset: str | None = _opt(None, "symbols of the new model in class order, blank last (default: the --init "
                               "model's, else the US set 0-9A-Z without O)")
    label_map: str | None = _opt(None, "label normalisation, e.g. O=0 ('' for none; default: the --init model's "
                                 "where its symbols still exist)", metavar="A=B,...")
    init_stats: str = _opt("crops", "where --init of an ONNX model measures the statistics it unfolds the folded "
                           "batch norms with: crops (the real training crops as they are) or stream (crops as "
                           "training sees them: augmented, synthetic plates mixed in; the same draw for every "
                           "--seed). The function at the start is the same either way; what differs is how "
                           "training-mode batch norms treat the first batches", choices=("crops", "stream"))
    freeze: str = _opt("none", "layers kept fixed when fine-tuning: stem (stem + first stage) or the whole backbone",
                       choices=("none", "stem", "backbone"))
    name: str | None = _opt(None, "model name in the spec (default: from --init, else lprnet_us)")
    synth_layout: str = _opt("us", "synthetic plate layout", choices=("us", "br"))
    synth_plate_o: float = _share("br", "whose O is drawn as the plate font draws it (a narrow rounded rectangle, "
                                  "close to D) instead of the font's round O")
    synth_plate_d: float = _share("br", "whose D is drawn as the plate font draws it (as its O, but with the stem's "
                                  "corners square)")
    synth_graphics: float = _share("us", "with a printed picture beside or behind the characters (tree, bird, "
                                   "building, mountains...), not to be read")
    synth_stroke_fonts: float = _share("us", "whose characters are drawn in a thick Hershey stroke font (OpenCV's; "
                                       "monoline glyphs like many embossed US plates) instead of a TrueType face")
    synth_plain_ones: float = _share("us", "(of those with a 1) whose 1 is a plain bar, as a sans face draws its I "
                                     "(as Massachusetts plates draw their 1)")
    synth_stacked: float = _share("us", "(of those without a picture) with two or three small characters stacked "
                                  "in a column beside the characters (county numbers, plate-type codes), not to "
                                  "be read")
    stroke_weight: float = _opt(0.0, "share of training crops (real and synthetic) whose strokes are made thicker "
                                "or thinner (grey-level erosion or dilation, 1.5-4%% of the crop height), for "
                                "glyphs in other weights; 0 = off", metavar="SHARE")
    augment: str = _opt("camera", "camera: camera effects and 0-15%% margins (the v3 recipe); world: also loose "
                        "detector crops (0-30%% per side) with car body, frame and dealer text, border marks, "
                        "emblems, stickers, night/IR/glare", choices=("camera", "world"))
    border_marks: float = _opt(0.25, "with --augment world: share of crops with part of a neighbouring mark at the "
                               "crop border, not to be read (fewer: tight crops read better, loose ones worse and "
                               "the confidence less useful; models README)", metavar="SHARE")
    tight_margin: float = _opt(0.03, "with --augment world: how far a world crop may cut into the plate per side "
                               "(fraction of the plate; crops are drawn from this far inside to 30%% outside)",
                               metavar="FRACTION")
    val_fraction: float = _opt(0.2, "share of the plates (by label) kept for validation")
    train_plates: int = _opt(0, "use only this many distinct plates of the training side (seeded; learning "
                             "curves); 0 = all")
    steps: int = _opt(4500, "optimiser steps")
    batch: int = _opt(64, "plates per step")
    lr: float = _opt(2e-3, "peak learning rate (one-cycle schedule)")
    synth: int = _opt(20000, "size of the synthetic plate pool")
    real_fraction: float = _opt(0.4, "share of real plates in each batch")
    oversample: str | None = _opt(None, "draw the real crops holding any of these symbols N times as often as the "
                                  "others (e.g. ODQ=3: a region's confusable round letters); default: all alike",
                                  metavar="SYMBOLS=N")
    seed: int = _opt(0, "seed of the pool, the stream and the initialisation")
    threads: int = _opt(0, "torch threads (0: all cores)")
    workers: int = _opt(1, "data loader processes")
    widths: str = _opt("32,64,96", "channels of the three stages")
    head: int = _opt(192, "channels of the sequence head")
    hard_mining: float = _opt(0.0, "replay the hardest share of each batch (highest CTC loss per character, e.g. "
                              "0.25) in later batches, on top of the fresh plates; 0 = off")
    align: bool = _opt(False, "put a spatial transformer (scale and shift per axis, learnt) in front of the network "
                       "to undo loose or offset crops; exports to MatMul, parsed by every supported TensorRT")
    align_box: float = _opt(0.0, "with --align: also teach the aligner where the plate is, with this weight of an "
                            "L1 loss between its zoom/shift and the plate box the augmentation knows (e.g. 10: with 1 "
                            "the zoom stayed one value for every crop; models README); "
                            "0 = it learns from the reading loss alone")
    align_passes: int = _opt(1, "with --align: how many times the aligner looks (each look at the crop as the "
                             "previous ones framed it; 2 flattened the margin curve, models README); an --init "
                             "model's aligner is reused with this many looks")
    ema: float = _opt(0.0, "keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                      "export it; 0 = off")
    eval_every: int = _opt(500, "steps between validations")
    ckpt_every: int = _opt(200, "steps between checkpoints (last.pt)")
    device: str = _opt("cpu", "where to train: cpu, cuda (a GPU), or auto (cuda when PyTorch sees one)",
                       choices=("cpu", "cuda", "auto"))
    no_progress: bool = _opt(False, "no progress bar")

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(ns).items() if k in names})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The training options as flags (shared by ``lpr-edge train`` and ``python -m lpr_edge.train``)."""
    for f in dataclasses.fields(TrainOptions):
        meta = f.metadata
        flags = meta["flags"] or ("--" + f.name.replace("_", "-"),)
        kwargs = {"dest": f.name, "default": f.default, "help": meta["help"] or None}
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
