"""Where INT8 scales come from during ``lpr-edge build``: a cache served to TensorRT 8.5/10.x's
calibrator (re-headed for the running version), TensorRT calibrating from crops at the OPT shape,
or the Q/DQ model TensorRT 11 builds from (cache given, or made by the same pipeline as
``lpr-edge calibrate``).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import write_bytes
from ..errors import InputError
from ..formats.engine_manifest import sha256_file
from ..spec import ModelSpec

MIN_COVERAGE = 0.5  # share of the quantizable layers' inputs a given cache must scale


def check_coverage(cache, prepared, source: str, say) -> None:
    """Say how much of the model ``cache`` scales, and refuse one that scales under ``MIN_COVERAGE`` of it:
    a cache made from another export (tensors renamed by onnxsim, say) would leave most layers in FP16
    without a word. The layers a cache leaves float on purpose (``--keep-float``) count as uncovered."""
    from ..errors import ModelFileError
    from .calibrate import QUANTIZED_OPS

    inits = {i.name for i in prepared.graph.initializer}
    inputs = {t for n in prepared.graph.node if n.op_type in QUANTIZED_OPS for t in n.input if t and t not in inits}
    covered = len(inputs & set(cache.scales))
    share = covered / len(inputs) if inputs else 1.0
    say(f"calibration cache {source} scales {covered} of the {len(inputs)} inputs of quantizable layers "
        f"({share:.0%}; the others run in FP16)")
    if share < MIN_COVERAGE:
        raise ModelFileError(f"{source} scales only {covered} of the {len(inputs)} inputs of this model's quantizable "
                             f"layers ({share:.0%}, under {MIN_COVERAGE:.0%}): it was made for another export of the "
                             "model; run lpr-edge calibrate on this ONNX")


HEAD_OPS = ("Softmax", "ReduceMax", "ArgMax", "TopK", "Cast")


def head_tensors(prepared) -> set[str]:
    """The tensors of the model's head: what its Softmax, ReduceMax, ArgMax and casts give, and the
    graph outputs (the classifier's convolution stays quantizable)."""
    return ({out for n in prepared.graph.node if n.op_type in HEAD_OPS for out in n.output}
            | {o.name for o in prepared.graph.output})


def default_cache_out(opts, stem: str) -> Path:
    """Where a cache made during a build goes: ``cache_out``, else beside the engine (never over the
    cache ``lpr-edge calibrate`` keeps in calibration/)."""
    return Path(opts.cache_out) if opts.cache_out else Path(opts.out_dir) / f"{stem}.int8.cache"


def qdq_model(prepared, spec: ModelSpec, opts, tmp: Path, stem: str, say):
    """The Q/DQ model TensorRT 11 builds INT8 from, and the SHA-256 of the cache it was made from."""
    import onnx

    from ..formats.trt_cache import read_cache
    from .qdq import make_qdq_model

    cache_file = _cache_for_qdq(prepared, spec, opts, tmp, stem, say)
    cache = read_cache(cache_file)
    if opts.calib_cache:
        check_coverage(cache, prepared, opts.calib_cache, say)
    (tmp / "prepared.onnx").write_bytes(prepared.SerializeToString())
    qdq = make_qdq_model(tmp / "prepared.onnx", cache, tmp / "qdq.onnx", spec)
    return onnx.load(qdq), sha256_file(cache_file)


def _cache_for_qdq(prepared, spec, opts, tmp: Path, stem: str, say) -> Path:
    """The cache file the Q/DQ model is made from: given, or computed with ONNX Runtime now."""
    if opts.calib_cache:
        return Path(opts.calib_cache)
    from ..formats.trt_cache import write_cache
    from ..gpu_stack import import_tensorrt
    from .calibrate import calibration_cache

    say(f"no --calib-cache: calibrating on {len(opts.calib_data)} crops with ONNX Runtime")
    (tmp / "calib.onnx").write_bytes(prepared.SerializeToString())
    cache = calibration_cache(tmp / "calib.onnx", list(opts.calib_data), spec,
                              trt_version=import_tensorrt().__version__, progress=sys.stderr.isatty())
    out = default_cache_out(opts, stem)
    write_cache(out, cache)
    say(f"wrote calibration cache {out}")
    return out


def implicit_calibrator(trt, prepared, spec, opts, stack, stem: str, say):
    """Calibrator for TensorRT 8.5/10.x: serves the given cache (re-headed), or calibrates on the GPU
    from crops; returns (calibrator, cache SHA-256, manifest notes)."""
    from .. import trt_compat
    from ..formats.trt_cache import check_names, read_cache
    from .calibrate import drop_scales, float_tensor_names

    if opts.calib_cache:
        cache = read_cache(opts.calib_cache)
        check_names(cache, float_tensor_names(prepared), opts.calib_cache)
        check_coverage(cache, prepared, opts.calib_cache, say)
        # The head's tensors (the probabilities, the confidences) get no INT8 scale: TensorRT could
        # otherwise pick an INT8 Softmax and hand back probabilities in steps of 1/127.
        text = drop_scales(cache, head_tensors(prepared)).to_text()
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
    crops from the start (with fewer crops than ``batch``, they repeat)."""
    if not images:
        raise InputError("--calib-data holds no readable crops")
    n = -(-len(images) // batch) * batch
    order = [images[i % len(images)] for i in range(n)]
    return [order[i:i + batch] for i in range(0, n, batch)]


@contextlib.contextmanager
def _device_batches(images: Sequence[np.ndarray], spec: ModelSpec, batch: int):
    """Full OPT-size batches, preprocessed and copied to one device buffer; yields its pointer per batch."""
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
