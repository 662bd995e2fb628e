"""ONNX in, TensorRT engine out (FP32, FP16 or INT8), on TensorRT 8.5, 10.x and 11.x.

Version differences are decided in :mod:`lpr_edge.toolchain.trt_compat`; this module follows one flow:
prepare the ONNX -> pick the precision plan -> parse -> profile/workspace/DLA/timing cache ->
``build_serialized_network`` -> engine + manifest written atomically.
"""
from __future__ import annotations

import contextlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass
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


def build_engine(onnx_path: str | Path, opts: BuildOptions, *, spec: ModelSpec | None = None,
                 preset: str | None = None, say: Callable[[str], None] = _say) -> tuple[Path, Manifest]:
    """Build an engine from ``onnx_path``; returns the engine path and its manifest."""
    from ..environment import cuda_device
    from ..formats.onnx_spec import load_onnx, resolve_spec
    from . import trt_compat
    from .onnx_prep import prepare, to_fp16

    check_options(opts)
    trt = trt_compat.import_tensorrt()
    feats = trt_compat.features(trt)
    onnx_path = Path(onnx_path)
    model = load_onnx(onnx_path)
    spec = resolve_spec(model, spec=spec, preset_name=preset, source=str(onnx_path))
    say(f"TensorRT {feats.version}: preparing {onnx_path.name} (onnxsim, dynamic batch, I/O check)")
    prepared = prepare(model, spec, simplify=opts.simplify)
    plan = trt_compat.plan_precision(feats, opts.precision)
    say(f"precision {opts.precision} via {plan}")
    stem = onnx_path.name[:-5] if onnx_path.name.endswith(".onnx") else onnx_path.stem
    cache_sha, cache_info = "", {}
    calibrator = None
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lpr-edge-build.")))
        if plan == "fp16-onnx":
            onnx_bytes = to_fp16(prepared, spec).SerializeToString()
        elif plan == "qdq":
            cache_file = _cache_for_qdq(prepared, spec, opts, tmp, stem, say)
            cache_sha = sha256_file(cache_file)
            import onnx

            from ..formats.trt_cache import read_cache
            from .qdq import make_qdq_model

            (tmp / "prepared.onnx").write_bytes(prepared.SerializeToString())
            qdq = make_qdq_model(tmp / "prepared.onnx", read_cache(cache_file), tmp / "qdq.onnx", spec)
            # Strong typing takes precisions from the graph: the layers left out of INT8 run in FP16.
            onnx_bytes = to_fp16(onnx.load(qdq), spec).SerializeToString()
        else:
            onnx_bytes = prepared.SerializeToString()
            if plan == "flags" and opts.precision == "int8":
                calibrator, cache_sha, cache_info = _implicit_calibrator(trt, trt_compat, prepared, spec, opts, stack,
                                                                         stem, say)

        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = trt_compat.create_network(trt, builder, feats)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelFileError(f"TensorRT's ONNX parser rejected {onnx_path.name}: {errors or 'no detail'}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
        profile = builder.create_optimization_profile()
        shape = spec.input_shape
        mn, opt, mx = opts.batch
        profile.set_shape(spec.input_name, (mn, *shape), (opt, *shape), (mx, *shape))
        config.add_optimization_profile(profile)
        if plan == "flags":
            trt_compat.set_precision_flags(trt, config, opts.precision, calibrator, profile, feats)
        if opts.dla_core is not None:
            _use_dla(trt, trt_compat, config, opts)
        timing = _load_timing_cache(config, opts.timing_cache)
        say(f"building (batch {mn}/{opt}/{mx}, workspace {opts.workspace_mb} MB); this can take minutes")
        t0 = time.time()
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ModelFileError("TensorRT could not build the engine (see its messages above); "
                                 "try a larger --workspace or another precision")
        seconds = time.time() - t0
        if timing and opts.timing_cache:
            write_bytes(opts.timing_cache, bytes(config.get_timing_cache().serialize()))
    gpu = cuda_device()
    gpu_name = gpu.get("name", "gpu") if gpu.get("available") else "gpu"
    engine_path = Path(opts.out_dir) / engine_file_name(stem, opts.precision, feats.version, gpu_name)
    write_bytes(engine_path, bytes(serialized))
    onnx_ref = _relative(onnx_path, engine_path.parent)
    manifest = Manifest(spec=spec, precision=opts.precision, trt_version=feats.version, gpu_name=gpu_name,
                        compute_capability=gpu.get("compute_capability", ""), profile=(mn, opt, mx), onnx=onnx_ref,
                        onnx_sha256=sha256_file(onnx_path), cache_sha256=cache_sha, dla_core=opts.dla_core,
                        build_seconds=round(seconds, 2), built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                        extra={"plan": plan, **cache_info})
    write_manifest(engine_path, manifest)
    say(f"wrote {engine_path} ({len(bytes(serialized)) / 1e6:.1f} MB) in {seconds:.1f} s")
    return engine_path, manifest


def _relative(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # other drive on Windows
        return str(path.resolve())


def default_cache_out(opts: BuildOptions, stem: str) -> Path:
    """Where a cache made during a build goes: ``cache_out``, else beside the engine (never over the
    cache ``lpr-edge calibrate`` keeps in calibration/)."""
    return Path(opts.cache_out) if opts.cache_out else Path(opts.out_dir) / f"{stem}.int8.cache"


def _cache_for_qdq(prepared, spec, opts: BuildOptions, tmp: Path, stem: str, say) -> Path:
    """The cache file the Q/DQ model is made from: given, or computed with ONNX Runtime now."""
    if opts.calib_cache:
        return Path(opts.calib_cache)
    from ..formats.trt_cache import write_cache
    from .calibrate import calibration_cache
    from .trt_compat import import_tensorrt

    say(f"no --calib-cache: calibrating on {len(opts.calib_data)} crops with ONNX Runtime")
    (tmp / "calib.onnx").write_bytes(prepared.SerializeToString())
    cache = calibration_cache(tmp / "calib.onnx", list(opts.calib_data), spec,
                              trt_version=import_tensorrt().__version__, progress=sys.stderr.isatty())
    out = default_cache_out(opts, stem)
    write_cache(out, cache)
    say(f"wrote calibration cache {out}")
    return out


def _implicit_calibrator(trt, trt_compat, prepared, spec, opts: BuildOptions, stack, stem: str, say):
    """Calibrator for TensorRT 8.5/10.x: serves the given cache, or calibrates on the GPU from crops."""
    from ..formats.trt_cache import check_names, read_cache
    from .calibrate import float_tensor_names

    if opts.calib_cache:
        check_names(read_cache(opts.calib_cache), float_tensor_names(prepared), opts.calib_cache)
        text = Path(opts.calib_cache).read_text(encoding="ascii")
        served, header, original = trt_compat.serve_cache(text, trt.__version__, opts.calib_cache)
        if header != original:
            say(f"calibration cache header {original} served as {header}: TensorRT ignores a cache made for another "
                "version or calibrator, and the scales do not depend on either")
        calibrator = trt_compat.make_calibrator(trt, served, batch_size=opts.batch[1])
        return calibrator, sha256_file(opts.calib_cache), {"cache_header_file": original, "cache_header_served": header}
    out = default_cache_out(opts, stem)
    say(f"no --calib-cache: TensorRT calibrates on {len(opts.calib_data)} crops at batch {opts.batch[1]}; "
        f"the cache goes to {out}")
    batches = stack.enter_context(_device_batches(list(opts.calib_data), spec, opts.batch[1]))
    calibrator = trt_compat.make_calibrator(trt, None, batches, on_write=lambda b: write_bytes(out, b),
                                            batch_size=opts.batch[1])
    return calibrator, "", {"cache_written": str(out)}


def calibration_batches(images: Sequence[np.ndarray], batch: int) -> list[list[np.ndarray]]:
    """Full batches of exactly ``batch`` crops: TensorRT calibrates at the OPT shape, so a short
    batch would put unwritten buffer rows into the statistics. The last batch is filled with
    crops from the start (each crop counts at most twice); fewer crops than ``batch`` repeat."""
    if not images:
        raise InputError("--calib-data holds no readable crops")
    n = -(-len(images) // batch) * batch
    order = [images[i % len(images)] for i in range(n)]
    return [order[i:i + batch] for i in range(0, n, batch)]


@contextlib.contextmanager
def _device_batches(images: Sequence[np.ndarray], spec: ModelSpec, batch: int):
    """Preprocessed batches copied to one device buffer, yielded as (pointer, size)."""
    from ..runtime.backends.cuda_context import CudaContext
    from ..runtime.preprocess import preprocess_batch

    ctx = CudaContext()
    cuda = ctx.cuda
    host = np.empty((batch, *spec.input_shape), np.float32)
    with ctx.active():
        device = cuda.mem_alloc(host.nbytes)

    def gen():
        for chunk in calibration_batches(images, batch):
            preprocess_batch(chunk, spec, out=host)
            with ctx.active():
                cuda.memcpy_htod(device, host)
            yield int(device)

    ctx.push()  # TensorRT calls get_batch on this thread during the build
    try:
        yield gen()
    finally:
        device.free()
        ctx.pop()
        ctx.release()


def _use_dla(trt, trt_compat, config, opts: BuildOptions) -> None:
    cores = trt_compat.num_dla_cores(trt)
    if opts.dla_core >= cores:
        raise InputError(f"--dla {opts.dla_core}: this device has {cores} DLA core(s)"
                         + (" (DLA exists on Jetson AGX/NX Xavier and Orin only)" if cores == 0 else ""))
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = opts.dla_core
    if opts.gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _load_timing_cache(config, path: str | None):
    if not path:
        return None
    blob = Path(path).read_bytes() if Path(path).is_file() else b""
    cache = config.create_timing_cache(blob)
    config.set_timing_cache(cache, False)
    return cache
