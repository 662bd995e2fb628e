"""Training options, kept free of PyTorch so the CLI can list them without it."""
from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "openalpr-us-states"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The training options (shared by ``lpr-edge train`` and ``python -m lpr_edge.train``)."""
    p.add_argument("--out", default="runs/lprnet_us", help="run folder (checkpoints, log, split)")
    p.add_argument("--real", "--data", dest="real", default=str(DEFAULT_REAL),
                   help="labelled real plates (labels.csv folder, split by plate into train/val); '' for none")
    p.add_argument("--init", default=None, metavar="MODEL",
                   help="start from a trained model: a bundled name (us), an lpr-edge .onnx export or a .pt "
                        "checkpoint (fine-tuning); default: train from scratch")
    p.add_argument("--charset", default=None,
                   help="symbols of the new model in class order, blank last (default: the --init model's, "
                        "else the US set 0-9A-Z without O)")
    p.add_argument("--label-map", default=None, metavar="A=B,...",
                   help="label normalisation, e.g. O=0 ('' for none; default: the --init model's where its "
                        "symbols still exist)")
    p.add_argument("--freeze", choices=("none", "stem", "backbone"), default="none",
                   help="layers kept fixed when fine-tuning: stem (stem + first stage) or the whole backbone")
    p.add_argument("--name", default=None, help="model name in the spec (default: from --init, else lprnet_us)")
    p.add_argument("--synth-layout", choices=("us", "br"), default="us", help="synthetic plate layout")
    p.add_argument("--augment", choices=("camera", "world"), default="camera",
                   help="camera: camera effects and 0-15%% margins (the v3 recipe); world: also loose detector "
                        "crops (0-30%% per side) with car body, frame and dealer text, border marks, emblems, "
                        "stickers, night/IR/glare")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--train-plates", type=int, default=0,
                   help="use only this many distinct plates of the training side (seeded; learning curves); 0 = all")
    p.add_argument("--steps", type=int, default=4500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--synth", type=int, default=20000, help="size of the synthetic plate pool")
    p.add_argument("--real-fraction", type=float, default=0.4, help="share of real plates in each batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--workers", type=int, default=1, help="data loader processes")
    p.add_argument("--widths", default="32,64,96")
    p.add_argument("--head", type=int, default=192)
    p.add_argument("--ema", type=float, default=0.0, help="keep an exponential moving average of the weights "
                   "with this decay (e.g. 0.999) and export it; 0 = off")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
