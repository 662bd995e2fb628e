"""ONNX in, TensorRT engine out (FP32, FP16 or INT8), on TensorRT 8.5, 10.x and 11.x.

Version differences are decided in :mod:`lpr_edge.trt_compat`; this module follows one flow:
prepare the ONNX -> pick the precision plan -> parse -> profile/workspace/DLA/timing cache ->
``build_serialized_network`` -> engine + manifest written atomically.
"""
from __future__ import annotations

import contextlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..atomic import write_bytes
from ..errors import InputError, ModelFileError
from ..formats.engine_manifest import Manifest, sha256_file, write_manifest
from ..spec import ModelSpec


@dataclass
class BuildOptions:
    """What to build. ``batch`` is the (min, opt, max) optimisation profile."""

    precision: str = "fp16"
    calib_cache: str | None = None
    calib_data: Sequence[np.ndarray] | None = None  # crops, used when no cache is given
    batch: tuple[int, int, int] = (1, 8, 32)
    workspace_mb: int = 1024
    dla_core: int | None = None
    gpu_fallback: bool = False
    timing_cache: str | None = None
    out_dir: str = "engines"
    simplify: bool = True
    cache_out: str | None = None  # where a cache made during the build is written


def _say(message: str) -> None:
    print(f"lpr-edge build: {message}", file=sys.stderr, flush=True)


def check_options(opts: BuildOptions) -> None:
    """Reject impossible option combinations before touching TensorRT."""
    if opts.precision not in ("fp32", "fp16", "int8"):
        raise InputError(f"precision must be fp32, fp16 or int8, not {opts.precision!r}")
    mn, opt, mx = opts.batch
    if not 1 <= mn <= opt <= mx:
        raise InputError(f"--batch needs 1 <= MIN <= OPT <= MAX, got {mn},{opt},{mx}")
    if opts.workspace_mb < 1:
        raise InputError("--workspace must be at least 1 MB")
    if opts.precision == "int8" and not opts.calib_cache and not opts.calib_data:
        raise InputError("INT8 needs scales: pass --calib-cache FILE (from lpr-edge calibrate) or --calib-data DIR")
    if opts.gpu_fallback and opts.dla_core is None:
        raise InputError("--gpu-fallback only applies with --dla CORE")
    if opts.dla_core is not None:
        check_dla(opts)


def check_dla(opts: BuildOptions) -> None:
    """DLA runs FP16/INT8 only and has no dynamic shapes (MIN = OPT = MAX; TensorRT's DLA rules)."""
    if opts.precision == "fp32":
        raise InputError("--dla: DLA runs FP16 or INT8 only; pass --fp16 or --int8 (or drop --dla for a GPU engine)")
    mn, opt, mx = opts.batch
    if not mn == opt == mx:
        raise InputError(f"--dla: DLA has no dynamic shapes, but --batch is {mn},{opt},{mx}; pass one batch size, "
                         f"e.g. --batch {opt} (smaller batches are padded to it at run time)")


def engine_file_name(model_stem: str, precision: str, trt_version: str, gpu_name: str) -> str:
    """``<model>.<precision>.trt<version>.<gpu>.engine`` with a file-system-safe GPU name."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower() or "gpu"
    return f"{model_stem}.{precision}.trt{trt_version}.{gpu}.engine"


@dataclass
class NetworkInput:
    """What the parser is given for a precision plan, and the INT8 scales' provenance."""

    onnx_bytes: bytes
    calibrator: object = None
    cache_sha: str = ""
    cache_info: dict = field(default_factory=dict)


def build_engine(onnx_path: str | Path, opts: BuildOptions, *, spec: ModelSpec | None = None,
                 preset: str | None = None, say: Callable[[str], None] = _say) -> tuple[Path, Manifest]:
    """Build an engine from ``onnx_path``; returns the engine path and its manifest."""
    from .. import trt_compat
    from ..formats.onnx_spec import load_onnx, probability_tensor, resolve_spec
    from ..gpu_stack import import_tensorrt
    from .onnx_prep import prepare

    check_options(opts)
    trt = import_tensorrt()
    feats = trt_compat.features(trt)
    onnx_path = Path(onnx_path)
    model = load_onnx(onnx_path)
    spec = resolve_spec(model, spec=spec, preset_name=preset, source=str(onnx_path))
    say(f"TensorRT {feats.version}: preparing {onnx_path.name} (onnxsim, dynamic batch, I/O check)")
    prepared = prepare(model, spec, simplify=opts.simplify)
    plan = trt_compat.plan_precision(feats, opts.precision)
    say(f"precision {opts.precision} via {plan}")
    stem = onnx_path.name[:-5] if onnx_path.name.endswith(".onnx") else onnx_path.stem
    with contextlib.ExitStack() as stack:
        net_input = network_input(trt, plan, prepared, spec, opts, stack, stem, say)
        serialized, seconds, timing, outputs = _build(trt, feats, plan, net_input, spec, opts, onnx_path.name, say)
    written = _write_engine(bytes(serialized), seconds, onnx_path, stem, spec, opts, feats.version, plan, net_input,
                            say, probability_tensor(prepared, spec), outputs)
    if timing is not None:  # after the engine: a build of minutes is never lost to its timing cache
        write_bytes(opts.timing_cache, timing)
    return written


def network_input(trt, plan: str, prepared, spec: ModelSpec, opts: BuildOptions, stack: contextlib.ExitStack,
                  stem: str, say) -> NetworkInput:
    """The ONNX the parser gets (FP16-converted, Q/DQ, or as prepared) and, on 8.5/10.x INT8, the calibrator."""
    from . import int8_sources
    from .onnx_prep import to_fp16

    if plan == "fp16-onnx":
        return NetworkInput(to_fp16(prepared, spec).SerializeToString())
    if plan == "qdq":
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lpr-edge-build.")))
        qdq, cache_sha = int8_sources.qdq_model(prepared, spec, opts, tmp, stem, say)
        # Strong typing takes precisions from the graph: the layers left out of INT8 run in FP16.
        return NetworkInput(to_fp16(qdq, spec).SerializeToString(), cache_sha=cache_sha)
    if plan == "flags" and opts.precision == "int8":
        calibrator, cache_sha, info = int8_sources.implicit_calibrator(trt, prepared, spec, opts, stack, stem, say)
        return NetworkInput(prepared.SerializeToString(), calibrator, cache_sha, info)
    return NetworkInput(prepared.SerializeToString())


def _build(trt, feats, plan: str, net_input: NetworkInput, spec: ModelSpec, opts: BuildOptions, name: str, say):
    """Parse, configure (workspace, profile, precision, DLA, timing cache) and build; (plan bytes, seconds)."""
    from .. import trt_compat

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = trt_compat.create_network(trt, builder, feats)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(net_input.onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"TensorRT's ONNX parser rejected {name}: {errors or 'no detail'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    profile = builder.create_optimization_profile()
    shape = spec.input_shape
    mn, opt, mx = opts.batch
    profile.set_shape(spec.input_name, (mn, *shape), (opt, *shape), (mx, *shape))
    config.add_optimization_profile(profile)
    if plan == "flags":
        trt_compat.set_precision_flags(trt, config, opts.precision, net_input.calibrator, profile, feats)
        if opts.precision != "fp32":
            trt_compat.pin_head_fp32(trt, network, config)
    if opts.dla_core is not None:
        _use_dla(trt, trt_compat, config, opts)
        _check_dla_layers(network, config, opts)
    timing = _load_timing_cache(config, opts.timing_cache, say)
    say(f"building (batch {mn}/{opt}/{mx}, workspace {opts.workspace_mb} MB); this can take minutes")
    t0 = time.time()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError("TensorRT could not build the engine (see its messages above); "
                             "try a larger --workspace or another precision")
    outputs = {network.get_output(i).name: str(network.get_output(i).dtype).rsplit(".", 1)[-1]
               for i in range(network.num_outputs)}
    return (serialized, time.time() - t0, (_timing_cache_bytes(config, say) if timing is not None else None),
            outputs)


def _write_engine(serialized: bytes, seconds: float, onnx_path: Path, stem: str, spec: ModelSpec,
                  opts: BuildOptions, trt_version: str, plan: str, net_input: NetworkInput,
                  say, probabilities: str | None = None, outputs: dict | None = None) -> tuple[Path, Manifest]:
    """Engine and manifest, both written atomically, named by model, precision, TensorRT and GPU."""
    from ..environment import cuda_device

    gpu = cuda_device()
    gpu_name = gpu.get("name", "gpu") if gpu.get("available") else "gpu"
    engine_path = Path(opts.out_dir) / engine_file_name(stem, opts.precision, trt_version, gpu_name)
    write_bytes(engine_path, serialized)
    manifest = Manifest(spec=spec, precision=opts.precision, trt_version=trt_version, gpu_name=gpu_name,
                        compute_capability=gpu.get("compute_capability", ""), profile=tuple(opts.batch),
                        onnx=_relative(onnx_path, engine_path.parent), onnx_sha256=sha256_file(onnx_path),
                        cache_sha256=net_input.cache_sha, dla_core=opts.dla_core, build_seconds=round(seconds, 2),
                        built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                        extra={"plan": plan, **net_input.cache_info,
                               **({"probabilities": probabilities} if probabilities else {}),
                               # the engine's own output types (8.5's parser turns INT64 into INT32)
                               **({"outputs": outputs} if outputs else {})})
    write_manifest(engine_path, manifest)
    say(f"wrote {engine_path} ({len(serialized) / 1e6:.1f} MB) in {seconds:.1f} s")
    return engine_path, manifest


def _relative(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # other drive on Windows
        return str(path.resolve())


def _use_dla(trt, trt_compat, config, opts: BuildOptions) -> None:
    cores = trt_compat.num_dla_cores(trt)
    if opts.dla_core >= cores:
        raise InputError(f"--dla {opts.dla_core}: this device has {cores} DLA core(s)"
                         + (" (DLA exists on Jetson AGX/NX Xavier and Orin only)" if cores == 0 else ""))
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = opts.dla_core
    if opts.gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _check_dla_layers(network, config, opts: BuildOptions) -> None:
    """Without --gpu-fallback every layer must run on DLA, or TensorRT's build fails with no reason given;
    TAO-style heads have one that cannot (the parser turns ArgMax into TopK)."""
    if opts.gpu_fallback:
        return
    blocked = [network.get_layer(i) for i in range(network.num_layers)
               if not config.can_run_on_DLA(network.get_layer(i))]
    if blocked:
        named = ", ".join(f"{layer.name} ({str(layer.type).rsplit('.', 1)[-1]})" for layer in blocked[:4])
        raise InputError(f"--dla {opts.dla_core}: {len(blocked)} layer(s) cannot run on DLA ({named}"
                         f"{', ...' if len(blocked) > 4 else ''}); add --gpu-fallback to run them on the GPU")


def _load_timing_cache(config, path: str | None, say):
    """The timing cache in ``path`` set on ``config``; one TensorRT cannot read or that another device made
    is replaced by a fresh one (with a line); None where TensorRT gives none (build without)."""
    if not path:
        return None
    blob = Path(path).read_bytes() if Path(path).is_file() else b""
    cache = config.create_timing_cache(blob)
    if cache is not None and config.set_timing_cache(cache, False):
        return cache
    if blob:
        say(f"timing cache {path} is not usable here (another TensorRT version or device); starting a fresh one")
        cache = config.create_timing_cache(b"")
        if cache is not None and config.set_timing_cache(cache, False):
            return cache
    say("TensorRT gave no timing cache; building without one")
    return None


def _timing_cache_bytes(config, say) -> bytes | None:
    """The timing cache after the build, serialised; None (with a line) where TensorRT has none to give."""
    try:
        cache = config.get_timing_cache()
        return None if cache is None else bytes(cache.serialize())
    except Exception as exc:  # TensorRT's bindings raise their own types; the engine matters more
        say(f"the timing cache could not be read back ({type(exc).__name__}); the engine is written without it")
        return None
