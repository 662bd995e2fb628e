"""lpr-edge train: train LPRNet with CTC loss: a shipped recipe end to end (--recipe us|br: the bundled
models' training, export and framing), or one run from scratch or fine-tuned from a trained model
(--init). Needs the train extra: pip install 'lpr-edge[train]'."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import require_torch


class _Recipe(argparse.Action):
    """``--recipe NAME``: loads the recipe as it is parsed, so ``--recipe us --help`` shows it."""

    def __call__(self, parser, namespace, value, option_string=None):
        from ..train import recipe

        try:
            loaded = recipe.load(value)
        except Exception as exc:  # an unknown name: a usage error, as argparse reports its own
            parser.error(str(exc))
        parser.epilog = recipe.describe(loaded)
        setattr(namespace, self.dest, loaded)


def add_parser(sub, name):
    from ..train.options import add_arguments
    from ..train.recipe import names

    p = sub.add_parser(name, help="train LPRNet: a shipped recipe (--recipe), or one run (PyTorch)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", action=_Recipe, default=None, metavar="|".join(names()),
                   help="run a shipped recipe end to end (every stage, the weight average, the framing) into "
                        "--out; the other flags override it (--recipe NAME --help shows it)")
    add_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    require_torch("training")
    from ..train.options import TrainOptions

    if args.recipe is not None:
        from ..train.recipe import run as run_recipe

        model = run_recipe(args.recipe, TrainOptions.given(args))
        print(f"model: {model}\nnext: lpr-edge eval --model {model} --data DIR (crops of another collection if "
              "you have them), then lpr-edge calibrate --onnx MODEL")
        return 0
    from ..train.loop import train

    opts = TrainOptions.from_namespace(args)
    best = train(opts)
    print(f"best checkpoint: {best}")
    # last.pt, as the README's workflow: best.pt is the checkpoint chosen on the validation crops
    last = Path(best).parent / "last.pt"
    data = f" --data {opts.real}" if opts.real else " --data DIR"
    print(f"next: lpr-edge export {last} -o MODEL.onnx, then lpr-edge framing --model MODEL.onnx{data} "
          "-o MODEL.onnx (where its characters sit, so loose crops are read again; no framing is inherited)")
    return 0
