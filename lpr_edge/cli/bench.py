"""lpr-edge bench [MODEL_OR_ENGINE ...]: latency and accuracy of models and engines.

With no model it benchmarks the bundled US model on a built-in synthetic sample set with ONNX
Runtime. End-to-end (crops in, strings out) and compute-only (the model alone) are reported
separately; trtexec's numbers are compute-only.
"""
from __future__ import annotations

import sys

from ..runtime.backends import BACKENDS
from ..spec import PRESETS
from .common import add_cross_check_flags


def _int_list(text: str, flag: str = "--batch") -> list[int]:
    from . import UsageError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"lpr-edge bench: {flag} takes comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"lpr-edge bench: {flag} values must be positive integers")
    return values


def add_parser(sub, name):
    p = sub.add_parser(name, help="measure latency and accuracy", description=__doc__)
    p.add_argument("models", nargs="*", metavar="MODEL_OR_ENGINE",
                   help="ONNX models, engines or servers (grpc://HOST:PORT/NAME; default: bundled)")
    p.add_argument("--data", default=None, help="labelled folder for accuracy and timing crops (default: synthetic)")
    p.add_argument("--split", choices=("all", "val", "train"), default="all", help="side of the fixed split of --data")
    p.add_argument("--batch", default="1,8,32", help="batch sizes, comma-separated (default 1,8,32)")
    p.add_argument("--clients", default="1", help="concurrent clients, comma-separated (e.g. 1,4,16): each a thread "
                                                "with its own Recognizer (default 1)")
    p.add_argument("--warmup", type=int, default=3)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--iters", type=int, default=None, help="timed iterations per batch size (default 20)")
    g.add_argument("--seconds", type=float, default=None, help="time budget per batch size instead of --iters")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None)
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime's intra-op threads (default 0: one per core)")
    p.add_argument("--no-spin", dest="spin", action="store_false",
                   help="ONNX Runtime's threads never spin (by default they spin while a run lasts and stop "
                        "when it returns)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a server may take per request (default 30)")
    p.add_argument("--no-reframe", dest="reframe", action="store_false",
                   help="time first readings only (default: loose crops are read again, for models with a framing)")
    add_cross_check_flags(p)
    p.add_argument("--json", default=None, metavar="OUT.json")
    p.add_argument("--markdown", default=None, metavar="OUT.md")
    p.add_argument("--plot", default=None, metavar="OUT.png")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..atomic import write_all
    from ..datasets import load_split
    from ..errors import InputError
    from ..evaluation.bench import BenchConfig, bench_models, plot_png, terminal_table, to_json, to_markdown
    from ..evaluation.harness import dataset_sample_set, synthetic_sample_set

    for flag in ("warmup", "iters", "seconds", "threads"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise InputError(f"--{flag} must not be negative")
    cfg = BenchConfig(batches=_int_list(args.batch), clients=_int_list(args.clients, "--clients"),
                      warmup=args.warmup, iters=args.iters, seconds=args.seconds,
                      backend=args.backend, preset=args.preset, threads=args.threads,
                      timeout=args.timeout, reframe=args.reframe, cross_check=args.cross_check, spin=args.spin,
                      progress=sys.stderr.isatty())
    if args.data:
        samples, _ = load_split(args.data, args.split)
        sample_set = dataset_sample_set(f"{args.data} ({args.split}, {len(samples)} plates)", samples)
    else:
        sample_set = synthetic_sample_set()
    report = bench_models(args.models or [None], sample_set, cfg)
    print(terminal_table(report))
    records = {args.json: lambda: (to_json(report) + "\n").encode(),
               args.markdown: lambda: to_markdown(report).encode(), args.plot: lambda: plot_png(report)}
    write_all({path: make() for path, make in records.items() if path})  # the records as one set
    return 0
