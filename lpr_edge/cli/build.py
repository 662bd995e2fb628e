"""lpr-edge build: ONNX in, TensorRT engine (+ JSON manifest) out, on TensorRT 8.5, 10.x and 11.x.

Needs TensorRT (Jetson or an NVIDIA GPU). INT8 scales come from a calibration cache made by
``lpr-edge calibrate`` (any machine), or from --calib-data crops calibrated during the build.
"""
from __future__ import annotations

import sys

from ..spec import PRESETS


def _profile(text: str) -> tuple[int, int, int]:
    from . import UsageError

    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise UsageError(f"lpr-edge build: --batch takes MIN,OPT,MAX (e.g. 1,8,32), got {text!r}")
    return values  # type: ignore[return-value]


DLA_BATCH = 8


def _batch(args) -> tuple[int, int, int]:
    """The profile: --batch, else 1,8,32; DLA has no dynamic shapes, so there one size (N or N,N,N)."""
    if args.dla is not None and args.batch is None:
        print(f"lpr-edge build: DLA has no dynamic shapes: building for batch {DLA_BATCH} (--batch N to change; "
              "smaller batches are padded at run time)", file=sys.stderr)
        return (DLA_BATCH,) * 3
    if args.dla is not None and args.batch and "," not in args.batch:
        return _profile(f"{args.batch},{args.batch},{args.batch}")
    return _profile(args.batch or "1,8,32")


def add_parser(sub, name):
    p = sub.add_parser(name, help="build a TensorRT engine (FP16/INT8)", description=__doc__)
    p.add_argument("--onnx", default=None, help="ONNX model or bundled model name (us, br; default: us)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="spec preset for models without one")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--fp16", dest="precision", action="store_const", const="fp16", help="FP16 engine (default)")
    g.add_argument("--int8", dest="precision", action="store_const", const="int8", help="INT8 engine")
    g.add_argument("--fp32", dest="precision", action="store_const", const="fp32", help="FP32 engine")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--calib-cache", default=None, help="TensorRT calibration cache from lpr-edge calibrate")
    c.add_argument("--calib-data", default=None, help="folder of crops to calibrate on during the build")
    p.add_argument("--calib-samples", type=int, default=512)
    p.add_argument("--batch", default=None,
                   help="optimisation profile MIN,OPT,MAX (default 1,8,32); with --dla one size N (default 8)")
    p.add_argument("--workspace", type=int, default=1024, help="builder workspace in MB")
    p.add_argument("--dla", type=int, default=None, metavar="CORE", help="build for this DLA core (Jetson)")
    p.add_argument("--gpu-fallback", action="store_true", help="with --dla: run unsupported layers on the GPU")
    p.add_argument("--timing-cache", default=None, help="timing cache file to load and update")
    p.add_argument("--out", default="engines", help="output folder (default engines/)")
    p.add_argument("--no-simplify", action="store_true", help="skip onnxsim")
    p.set_defaults(run=run, precision="fp16")


def run(args) -> int:

    from ..bundled import resolve_model
    from ..toolchain.engine_builder import BuildOptions, build_engine

    onnx_path = resolve_model(args.onnx)
    calib_data = None
    if args.calib_data:
        from ..datasets import load_dataset, load_images

        calib_data, _, _ = load_images(load_dataset(args.calib_data, labelled=False).samples[: args.calib_samples])
    opts = BuildOptions(precision=args.precision, calib_cache=args.calib_cache, calib_data=calib_data,
                        batch=_batch(args), workspace_mb=args.workspace, dla_core=args.dla,
                        gpu_fallback=args.gpu_fallback, timing_cache=args.timing_cache, out_dir=args.out,
                        simplify=not args.no_simplify)
    engine, manifest = build_engine(onnx_path, opts, preset=args.preset)
    print(engine)
    return 0
