"""lpr-edge export onnx|triton|deepstream: a model in the form another tool takes.

  onnx CHECKPOINT -o OUT.onnx      a training checkpoint to the TAO-contract ONNX (``export CHECKPOINT``
                                   without the word onnx still works); several checkpoints of runs
                                   fine-tuned from one --init export their weight average;
                                   --ensemble-with CKPT[,CKPT...] adds a network: a prediction
                                   ensemble, each plate read by its most confident member
  triton --out REPO                a Triton model repository entry (ONNX Runtime or TensorRT plan)
  deepstream --out DIR             the nvinfer config + dict.txt of DeepStream's LPR stage
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..train.options import ENSEMBLE_COMBINERS
from .common import require_torch

TARGETS = ("onnx", "triton", "deepstream")


def with_default_target(argv: list[str]) -> list[str]:
    """``export CHECKPOINT ...`` (the verb's first form) means ``export onnx CHECKPOINT ...``."""
    if len(argv) >= 2 and argv[0] == "export" and argv[1] not in TARGETS and argv[1] not in ("-h", "--help"):
        return ["export", "onnx", *argv[1:]]
    return argv


def add_parser(sub, name):
    p = sub.add_parser(name, help="export to ONNX, a Triton model repository or a DeepStream config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True, parser_class=type(p))

    o = targets.add_parser("onnx", help="a training checkpoint to ONNX (TAO contract)")
    o.add_argument("checkpoint", nargs="+", help="best.pt or last.pt from lpr-edge train; several (seeds of one "
                   "fine-tuning recipe, same --init) export the average of their weights")
    o.add_argument("-o", "--out", required=True, help="output .onnx")
    o.add_argument("--ensemble-with", action="append", default=[], metavar="CKPT[,CKPT...]",
                   help="another member of a prediction ensemble: a checkpoint, or several (comma-separated) to "
                        "weight-average first; repeatable. Members may come from other starts or architectures "
                        "(each costs one network's time)")
    o.add_argument("--combine", choices=ENSEMBLE_COMBINERS, default=None,
                   help="how an ensemble's members make one reading: select (default) = each plate takes the "
                        "reading of the member most confident of it; mean = per-slice mean of the members' "
                        "softmax (drops or doubles characters when members align characters differently)")
    o.add_argument("--check-data", default=None, help="labelled folder whose crops compare PyTorch and ONNX Runtime "
                                                      "(default: synthetic plates)")
    o.add_argument("--check-count", type=int, default=64)
    o.set_defaults(run=run_onnx)

    t = targets.add_parser("triton", help="a model repository for NVIDIA's Triton container")
    _model_args(t, "REPO", "model repository folder; the model goes to REPO/NAME")
    t.add_argument("--name", default="lpr", help="model name in the repository (default lpr)")
    t.add_argument("--max-batch", type=int, default=64,
                   help="max_batch_size (default 64: a client's 32 crops and their padded views in one request; "
                        "an engine's profile caps it)")
    t.add_argument("--max-queue-delay-us", type=int, default=100, help="dynamic batching delay (microseconds)")
    t.add_argument("--instances", type=int, default=1, help="instance_group count")
    t.set_defaults(run=run_triton)

    d = targets.add_parser("deepstream", help="nvinfer config and dict.txt for DeepStream's LPR stage")
    _model_args(d, "DIR", "folder for the config, dict.txt and the model")
    d.add_argument("--batch-size", type=int, default=None, help="nvinfer batch-size (default: engine's max, else 16)")
    d.add_argument("--gie-id", type=int, default=3, help="gie-unique-id of this stage (default 3)")
    d.add_argument("--operate-on-gie-id", type=int, default=2, help="the plate detector's gie-unique-id (default 2)")
    d.set_defaults(run=run_deepstream)


def _model_args(p, out_metavar: str, out_help: str) -> None:
    p.add_argument("--model", "-m", default=None, help="ONNX model or bundled name (default: the engine's ONNX, "
                                                       "else us)")
    p.add_argument("--engine", default=None, help="a TensorRT engine built from it (lpr-edge build)")
    p.add_argument("--out", "-o", required=True, metavar=out_metavar, help=out_help)
    p.add_argument("--force", action="store_true", help="replace what is at the output path")


def run_onnx(args) -> int:
    require_torch("export")
    from .. import synth
    from ..datasets import load_dataset, load_images
    from ..errors import InputError
    from ..train.export import export_onnx

    if args.check_count < 1:
        raise InputError("--check-count must be at least 1: the export is checked against PyTorch on those crops")
    if args.check_data:
        images, _, _ = load_images(load_dataset(args.check_data).samples[:args.check_count])
        where = "crops"
    else:  # never skip the check: generated plates exercise every layer as well
        images, where = [p.image for p in synth.generate(args.check_count, seed=2027)], "synthetic crops"
    members = [[p for p in group.split(",") if p] for group in args.ensemble_with]
    if any(not m for m in members):
        raise InputError("--ensemble-with needs a checkpoint (or several, comma-separated)")
    if args.combine and not members:
        raise InputError(f"--combine {args.combine}: combines the members of an ensemble; add --ensemble-with CKPT "
                         "(or leave --combine out for one network)")
    report = export_onnx(args.checkpoint, args.out, check_images=images, ensemble_with=members,
                         combine=args.combine or "select")
    averaged = f" (the weight average of {len(args.checkpoint)} runs)" if len(args.checkpoint) > 1 else ""
    if members:
        averaged += f", a prediction ensemble of {len(members) + 1} networks"
    print(f"wrote {args.out}{averaged}; ONNX Runtime vs PyTorch on {report['images']} {where}: argmax equal "
          f"{report['argmax_equal']:.4f}, max score difference {report['max_abs_diff']:.2e}")
    return 0


def run_triton(args) -> int:
    from ..deploy.triton_repo import export_triton

    folder = export_triton(args.out, args.model, args.engine, name=args.name, max_batch=args.max_batch,
                           max_queue_delay_us=args.max_queue_delay_us, instances=args.instances, force=args.force)
    print(f"wrote {folder} (config.pbtxt, 1/{'model.plan' if args.engine else 'model.onnx'}, spec.json, labels.txt)\n"
          f"serve it: {docker_command(Path(args.out), gpu=bool(args.engine))}\n"
          f"read from it: Recognizer('grpc://HOST:8001/{args.name}')")
    return 0


def docker_command(repository: Path, gpu: bool) -> str:
    """The command that serves ``repository`` with NVIDIA's Triton container (a TensorRT plan needs the GPU)."""
    mount = shlex.quote(str(repository.resolve()))
    return (f"docker run --rm{' --gpus all' if gpu else ''} -p 8000:8000 -p 8001:8001 -p 8002:8002 "
            f"-v {mount}:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models")


def run_deepstream(args) -> int:
    from ..deploy.deepstream import CONFIG_NAME, export_deepstream

    folder = export_deepstream(args.out, args.model, args.engine, batch_size=args.batch_size, gie_id=args.gie_id,
                               operate_on=args.operate_on_gie_id, force=args.force)
    print(f"wrote {folder}/{CONFIG_NAME}, dict.txt and the model; point the LPR sgie of deepstream_lpr_app at "
          f"{CONFIG_NAME} and run the app where dict.txt is (its parser opens it from the working folder)")
    return 0
