"""Options shared by the verbs that open a model."""
from __future__ import annotations

import argparse

from ..runtime.backends import BACKENDS
from ..spec import PRESETS


def add_model_args(p: argparse.ArgumentParser, default_help: str = "the bundled US model") -> None:
    p.add_argument("--model", "-m", default=None,
                   help=f"ONNX model, TensorRT engine, bundled model name (us, br) or a Triton server "
                        f"(grpc://HOST:8001/NAME, http://HOST:8000/NAME; default: {default_help})")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="runtime (default: auto)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="spec preset for models that carry none")
    p.add_argument("--spec", default=None, help="spec JSON file for models that carry none")
    p.add_argument("--max-batch", type=int, default=32, help="largest batch per inference call")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for ONNX Runtime (0: all cores)")
    p.add_argument("--no-spin", dest="spin", action="store_false",
                   help="ONNX Runtime's threads never spin (by default they spin while a run lasts and stop "
                        "when it returns)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a server may take per request (default 30)")
    p.add_argument("--plate-format", default=None, metavar="FORMAT",
                   help="the region's plate format, to swap letter/digit look-alikes that misfit it: br, or "
                        "patterns of L (letter) and 9 (digit) such as LLL9999|LLL9L99 (default: none)")
    p.add_argument("--no-reframe", dest="reframe", action="store_false",
                   help="keep every first reading (default: crops looser than the model's training crops are cut "
                        "around their characters and read again, for models with a framing, as the bundled ones)")
    add_cross_check_flags(p)


def add_cross_check_flags(p: argparse.ArgumentParser) -> None:
    """``--cross-check`` / ``--no-cross-check``; neither: the Recognizer's default."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cross-check", dest="cross_check", action="store_const", const=True, default=None,
                   help="read each crop again padded a little and average the character product over both "
                        "readings, a differing one counting 0 (default: on, except for the bundled models and "
                        "other TAO-style models whose softmax the backend gives: their CTC posterior ranks "
                        "better alone)")
    g.add_argument("--no-cross-check", dest="cross_check", action="store_const", const=False,
                   help="never read a crop twice for its confidence")


def require_torch(what: str) -> None:
    """Fail with the install command when PyTorch (the ``train`` extra) is missing."""
    import importlib.util

    from ..errors import BackendUnavailable

    if importlib.util.find_spec("torch") is None:
        raise BackendUnavailable(f"{what} needs PyTorch: pip install 'lpr-edge[train]'")


def open_recognizer(args: argparse.Namespace, model: str | None = None):
    from ..formats.onnx_spec import load_spec_file
    from ..runtime.recognizer import Recognizer

    spec = load_spec_file(args.spec) if getattr(args, "spec", None) else None
    return Recognizer(model if model is not None else args.model, args.backend, spec=spec, preset=args.preset,
                      max_batch=args.max_batch, threads=args.threads, timeout=getattr(args, "timeout", 30.0),
                      spin=getattr(args, "spin", True),
                      plate_format=getattr(args, "plate_format", None), reframe=getattr(args, "reframe", True),
                      cross_check=getattr(args, "cross_check", None))
