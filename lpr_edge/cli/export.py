"""lpr-edge export CHECKPOINT -o OUT.onnx: a trained checkpoint to the TAO US ONNX contract."""
from __future__ import annotations

from .common import require_torch


def add_parser(sub, name):
    p = sub.add_parser(name, help="export a training checkpoint to ONNX", description=__doc__)
    p.add_argument("checkpoint", help="best.pt or last.pt from lpr-edge train")
    p.add_argument("-o", "--out", required=True, help="output .onnx")
    p.add_argument("--check-data", default=None, help="labelled folder whose crops compare PyTorch and ONNX Runtime")
    p.add_argument("--check-count", type=int, default=64)
    p.set_defaults(run=run)


def run(args) -> int:
    require_torch("export")
    from ..evaluation.datasets import load_dataset, load_images
    from ..train.export import export_onnx

    images = []
    if args.check_data:
        images, _, _ = load_images(load_dataset(args.check_data).samples[:args.check_count])
    report = export_onnx(args.checkpoint, args.out, check_images=images)
    print(f"wrote {args.out}; ONNX Runtime vs PyTorch on {report['images']} crops: argmax equal "
          f"{report['argmax_equal']:.4f}, max score difference {report['max_abs_diff']:.2e}")
    return 0
