"""lpr-edge calibrate: INT8 scales for a model, as a TensorRT calibration cache and Q/DQ ONNX models.

Runs anywhere (ONNX Runtime on the CPU). With a labelled --eval-data it reports FP32 against
INT8: the TensorRT Q/DQ model run in ONNX Runtime (what TensorRT computes) and the CPU Q/DQ model
(same ranges as uint8, the form ONNX Runtime's x86 int8 kernels run fast): perfect-match,
per-character and batch-32 CPU time.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..spec import PRESETS


def add_parser(sub, name):
    from ..toolchain.calibrate import METHODS

    p = sub.add_parser(name, help="INT8 calibration cache + Q/DQ ONNX (no GPU needed)", description=__doc__)
    p.add_argument("--onnx", default=None, help="ONNX model or bundled model name (us, br; default: us)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="spec preset for models without one")
    p.add_argument("--data", default="synthetic",
                   help="folder of plate crops (labelled or not), or 'synthetic' for generated plates")
    p.add_argument("--split", choices=("all", "val", "train"), default="all", help="side of the fixed split of --data")
    p.add_argument("--method", choices=METHODS, default="entropy")
    p.add_argument("--samples", type=int, default=512, help="at most this many calibration crops")
    p.add_argument("--trt-version", default=None,
                   help="version for the cache header (default: installed TensorRT, else 10.3.0)")
    p.add_argument("--cache", default=None, help="output cache (default calibration/<model>.cache)")
    p.add_argument("--qdq", default=None,
                   help="output Q/DQ ONNX for TensorRT (default calibration/<model>.qdq.onnx)")
    p.add_argument("--cpu-qdq", default=None,
                   help="output Q/DQ ONNX for ONNX Runtime on the CPU (default calibration/<model>.cpu.qdq.onnx)")
    p.add_argument("--keep-float", default=None,
                   help="layers left in FP16/FP32: 'first' (input convolution), 'last' (classifier), node names, "
                        "comma-separated; '' quantizes everything (default first,last); with --from-cache, these "
                        "layers are also taken out of the given cache (the new cache goes to --cache)")
    p.add_argument("--from-cache", default=None, help="skip statistics: make the Q/DQ ONNX from this existing cache")
    p.add_argument("--eval-data", default=None,
                   help="labelled folder to compare FP32 and INT8 on, or 'synthetic' for generated plates "
                        "(a seed never used for training or calibration)")
    p.add_argument("--eval-split", choices=("all", "val", "train"), default="all")
    p.add_argument("--eval-samples", type=int, default=3000, help="plates generated for --eval-data synthetic")
    p.add_argument("--sensitivity", action="store_true",
                   help="also keep each quantized layer float in turn and read --eval-data: "
                        "which layers to --keep-float")
    p.add_argument("--force", action="store_true",
                   help="replace existing output files (the shipped calibration/ files included)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def output_paths(args, stem: str) -> tuple[Path, Path, Path]:
    """Cache, TensorRT Q/DQ and CPU Q/DQ paths. Outputs not named go beside the first one named
    (never into calibration/ of the working directory, where the shipped files live); with none
    named, all three go to calibration/."""
    named = [Path(p) for p in (args.cache, args.qdq, args.cpu_qdq) if p]
    folder = named[0].parent if named else Path("calibration")
    return (Path(args.cache) if args.cache else folder / f"{stem}.cache",
            Path(args.qdq) if args.qdq else folder / f"{stem}.qdq.onnx",
            Path(args.cpu_qdq) if args.cpu_qdq else folder / f"{stem}.cpu.qdq.onnx")


def run(args) -> int:
    from ..atomic import atomic_files
    from ..bundled import resolve_model
    from ..formats.onnx_spec import load_onnx, resolve_spec
    from ..formats.trt_cache import read_cache, write_cache
    from ..toolchain.calibrate import KEEP_FLOAT, calibration_cache, drop_scales, float_kept_tensors
    from ..toolchain.qdq import make_qdq_models

    onnx_path = resolve_model(args.onnx)
    model = load_onnx(onnx_path)
    spec = resolve_spec(model, preset_name=args.preset, source=str(onnx_path))
    stem = onnx_path.name[:-5] if onnx_path.name.endswith(".onnx") else onnx_path.stem
    cache_path, qdq_path, cpu_path = output_paths(args, stem)
    eval_set = _check(args)  # bad options and a bad --eval-data fail before any work
    report: dict = {"onnx": str(onnx_path), "cache": str(cache_path), "qdq": str(qdq_path), "cpu_qdq": str(cpu_path)}
    keep = None if args.keep_float is None else [k for k in args.keep_float.split(",") if k]
    kept = None if keep is None else float_kept_tensors(model, keep)  # a bad --keep-float fails before any work
    # a cache given with --from-cache is written again only where layers are taken out of it
    writes_cache = not args.from_cache or kept is not None
    outputs = [cache_path, qdq_path, cpu_path] if writes_cache else [qdq_path, cpu_path]
    _refuse_existing(outputs, args.force)
    if args.from_cache:
        cache = read_cache(args.from_cache)
        report["from_cache"] = args.from_cache
        if kept is not None:  # a cache has no scales to give back, so layers can only be taken out of INT8
            cache = drop_scales(cache, kept)
            report.update({"keep_float": keep, "tensors": len(cache.scales)})
    else:
        images = calibration_images(args.data, args.split, args.samples)
        keep = list(KEEP_FLOAT) if keep is None else keep
        cache = calibration_cache(onnx_path, images, spec, method=args.method, trt_version=args.trt_version,
                                  keep_float=keep, progress=sys.stderr.isatty())
        report.update({"keep_float": keep, "method": args.method, "images": len(images),
                       "tensors": len(cache.scales), "header": cache.header})
    with atomic_files(*outputs) as temps:  # the cache and its two models together, or none of them
        if writes_cache:
            write_cache(temps[0], cache)
        make_qdq_models(onnx_path, cache, temps[-2], temps[-1], spec)
    if eval_set is not None:
        from ..evaluation.int8_compare import compare

        report["comparison"] = compare({"fp32": onnx_path, "int8": qdq_path, "int8_cpu": cpu_path}, eval_set, spec)
        if args.sensitivity:
            from ..toolchain.sensitivity import layer_sensitivity

            report["sensitivity"] = layer_sensitivity(onnx_path, cache, eval_set, spec, progress=sys.stderr.isatty())
    _print(args, report)
    return 0


def _refuse_existing(outputs: list[Path], force: bool) -> None:
    """Existing outputs are replaced only with --force: calibration/ holds the bundled models' shipped files."""
    from ..errors import OutputError

    existing = [p for p in outputs if p.exists()]
    if existing and not force:
        raise OutputError(f"{existing[0]} exists; write the set elsewhere (--cache, --qdq, --cpu-qdq) or pass "
                          "--force to replace it")


def _check(args):
    """Refuse bad option combinations; the evaluation set, read now so a bad one fails first."""
    from ..errors import InputError
    from ..evaluation.harness import eval_sample_set

    if args.samples < 1:
        raise InputError("--samples must be at least 1")
    if args.eval_data == "synthetic" and args.eval_samples < 1:
        raise InputError("--eval-samples must be at least 1")
    if args.sensitivity and not args.eval_data:
        raise InputError("--sensitivity needs a labelled set to read: add --eval-data DIR (or synthetic)")
    return eval_sample_set(args.eval_data, args.eval_split, args.eval_samples) if args.eval_data else None


def _print(args, report: dict) -> None:
    from ..evaluation.metrics import describe_change

    if args.json:
        print(json.dumps(report, indent=2))
        return
    wrote_cache = not args.from_cache or "keep_float" in report
    print(f"wrote {report['cache'] if wrote_cache else '(cache given)'}, {report['qdq']} and "
          f"{report['cpu_qdq']}")
    c = report.get("comparison")
    if c:
        for prec in ("fp32", "int8", "int8_cpu"):
            r = c[prec]
            print(f"  {prec:8s}: perfect {r['perfect_match']:.2%}  per-char {r['per_char_match']:.2%}  "
                  f"batch-32 compute p50 {r['batch32_ms']:.2f} ms")
        print(f"  INT8 change on {c['data']}: TensorRT Q/DQ {c['perfect_match_delta_pt']:+.2f} pt perfect match, "
              f"{describe_change(c['int8']['paired'])}; CPU Q/DQ {c['cpu_perfect_match_delta_pt']:+.2f} pt, "
              f"{describe_change(c['int8_cpu']['paired'])}; CPU speed-up {c['speedup']:.2f}x")
    if "sensitivity" in report:
        from ..toolchain.sensitivity import sensitivity_table

        print(sensitivity_table(report["sensitivity"]))


def calibration_images(data: str, split_side: str, samples: int):
    """Crops to calibrate on: a folder (one side of its fixed split), or generated plates (seed 11)."""
    from ..datasets import load_images, load_split

    if data == "synthetic":
        from .. import synth

        return [p.image for p in synth.generate(samples, seed=11)]
    chosen, _ = load_split(data, split_side)
    images, _, _ = load_images(chosen[:samples])
    return images
