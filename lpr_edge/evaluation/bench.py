"""Latency and accuracy harness behind ``lpr-edge bench``.

Latency is measured end to end through :class:`~lpr_edge.Recognizer` (crops in, strings out) per
batch size, split into stages; "compute" is the model alone on the first pass (ONNX Runtime ``run`` or
the TensorRT enqueue-to-sync time on CUDA events), which is what trtexec reports; with the cross-check
on and room in the backend that pass holds the crops and their padded views, twice the batch. Accuracy is scored
on a labelled set; several models are compared side by side against the most precise one.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..environment import collect
from .harness import ModelReading, SampleSet
from .metrics import describe_change

PRECISION_ORDER = {"fp32": 0, "fp16": 1, "int8": 2}


@dataclass
class BenchConfig:
    """What to measure."""

    batches: Sequence[int] = (1, 8, 32)
    warmup: int = 3
    iters: int | None = None
    seconds: float | None = None
    backend: str = "auto"
    preset: str | None = None
    threads: int = 0
    progress: bool = False
    clients: Sequence[int] = (1,)
    timeout: float = 30.0
    reframe: bool = True    # loose crops read again (models with a framing; lpr_edge.runtime.reframe)
    cross_check: bool | None = None  # every crop also read padded (lpr_edge.runtime.cross_check); None: the default
    spin: bool = True       # ONNX Runtime's threads spin while a run lasts (off: never)


# A percentile is only quoted where at least this many samples lie at or beyond it: p90 needs 50 samples,
# p99 500 (the default 20 iterations support the median alone; --iters or --seconds give more).
TAIL_SAMPLES = 5


def supported(pct: int, n: int) -> bool:
    """Whether ``n`` samples support the ``pct`` percentile (``TAIL_SAMPLES`` of them at or beyond it)."""
    return n * (100 - pct) >= TAIL_SAMPLES * 100 or pct == 50


def stats(values_ms: Sequence[float]) -> dict:
    """Mean, min, max and the percentiles the samples support (p90/p99 are None with too few samples)."""
    v = np.asarray(values_ms, np.float64)
    pct = {f"p{p}": float(np.percentile(v, p)) if supported(p, v.size) else None for p in (50, 90, 99)}
    return {"mean": float(v.mean()), **pct, "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def time_batches(rec, images: Sequence[np.ndarray], cfg: BenchConfig, bar=None) -> list[dict]:
    """Latency of ``rec`` per batch size: end to end, per stage, per plate, throughput."""
    rows = []
    for b in cfg.batches:
        crops = [images[i % len(images)] for i in range(b)]
        for _ in range(cfg.warmup):
            rec.recognize_batch(crops)
        total, stages = [], {}
        deadline = time.perf_counter() + cfg.seconds if cfg.seconds else None
        n_iters = cfg.iters or (10_000_000 if deadline else 20)
        for i in range(n_iters):
            t = time.perf_counter()
            rec.recognize_batch(crops)
            total.append((time.perf_counter() - t) * 1e3)
            for k, v in rec.last_timings.items():
                stages.setdefault(k, []).append(v)
            if deadline and time.perf_counter() > deadline and i >= 2:
                break
        e2e = stats(total)
        compute_key = "compute" if "compute" in stages else "infer"
        rows.append({
            "batch": b,
            "end_to_end_ms": e2e,
            "compute_ms": stats(stages[compute_key]),
            "per_plate_ms": _per_plate(e2e, b),
            "throughput_plates_s": b / (e2e["p50"] / 1e3),
            "stages_ms_p50": {k: float(np.median(v)) for k, v in stages.items() if k != "backend"},
        })
        if bar is not None:
            bar.update(1)
    return rows


def _per_plate(e2e: dict, batch: int) -> dict:
    return {k: None if v is None else v / batch for k, v in e2e.items() if k != "n"}


def time_concurrent(open_recognizer, images: Sequence[np.ndarray], cfg: BenchConfig, clients: int,
                    bar=None) -> list[dict]:
    """``clients`` threads, each with its own Recognizer, send batches at once (a fleet on one server).

    Latency is per request over all threads; throughput is all plates read over the wall time.
    """
    recs = [open_recognizer() for _ in range(clients)]
    rows = []
    try:
        for b in cfg.batches:
            crops = [images[i % len(images)] for i in range(b)]
            for rec in recs:
                for _ in range(cfg.warmup):
                    rec.recognize_batch(crops)
            latencies, compute, wall = _run_clients(recs, crops, cfg)
            e2e = stats(latencies)
            rows.append({
                "batch": b, "clients": clients, "end_to_end_ms": e2e, "compute_ms": stats(compute),
                "per_plate_ms": _per_plate(e2e, b),
                "throughput_plates_s": b * len(latencies) / wall, "stages_ms_p50": {},
            })
            if bar is not None:
                bar.update(1)
    finally:
        for rec in recs:
            rec.close()
    return rows


def _run_clients(recs, crops, cfg: BenchConfig) -> tuple[list[float], list[float], float]:
    import threading

    start = threading.Barrier(len(recs) + 1)
    latencies: list[list[float]] = [[] for _ in recs]
    compute: list[list[float]] = [[] for _ in recs]
    failures: list[BaseException] = []
    n_iters = cfg.iters or (10_000_000 if cfg.seconds else 20)

    def worker(k: int) -> None:
        start.wait()
        deadline = time.perf_counter() + cfg.seconds if cfg.seconds else None
        try:
            for i in range(n_iters):
                t = time.perf_counter()
                recs[k].recognize_batch(crops)
                latencies[k].append((time.perf_counter() - t) * 1e3)
                compute[k].append(recs[k].last_timings.get("compute", recs[k].last_timings.get("infer", 0.0)))
                if deadline and time.perf_counter() > deadline and i >= 2:
                    break
        except BaseException as exc:  # re-raised in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(len(recs))]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if failures:
        raise failures[0]
    return [v for part in latencies for v in part], [v for part in compute for v in part], wall


def bench_models(models: Sequence[str | None], sample_set: SampleSet, cfg: BenchConfig) -> dict:
    """Benchmark every model on the same crops; returns the full report as a dict."""
    from ..runtime.recognizer import Recognizer

    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(models) * len(cfg.batches) * len(cfg.clients), desc="benchmarking", unit="run",
                   leave=False)
    results, readings = [], []
    for model in models:
        def open_recognizer(model=model):
            return Recognizer(model, cfg.backend, preset=cfg.preset, max_batch=max(cfg.batches), threads=cfg.threads,
                              timeout=cfg.timeout, reframe=cfg.reframe, cross_check=cfg.cross_check, spin=cfg.spin)

        with open_recognizer() as rec:
            latency = []
            for clients in cfg.clients:
                latency += ([{**row, "clients": 1} for row in time_batches(rec, sample_set.images, cfg, bar)]
                            if clients == 1 else time_concurrent(open_recognizer, sample_set.images, cfg, clients, bar))
            entry = {"model": str(rec.model_path), "backend": rec.backend_name, "precision": rec.precision,
                     "spec": rec.spec.name, "latency": latency}
            if sample_set.labels:
                reading = ModelReading.of(rec, sample_set)
                acc = reading.accuracy
                entry["accuracy"] = {**acc.to_dict(),
                                     "errors": [{"label": lbl, "prediction": p} for _, lbl, p in acc.errors[:50]]}
                readings.append(reading)
        results.append(entry)
    if bar is not None:
        bar.close()
    if readings and len(results) > 1:
        ref = min(range(len(results)), key=lambda i: PRECISION_ORDER.get(results[i]["precision"], 9))
        for i, entry in enumerate(results):
            entry["accuracy"]["reference"] = results[ref]["model"]
            if i == ref:
                continue
            entry["accuracy"]["perfect_match_delta"] = (entry["accuracy"]["perfect_match"]
                                                        - results[ref]["accuracy"]["perfect_match"])
            entry["accuracy"]["agreement"] = readings[i].agreement(readings[ref])
            entry["accuracy"]["paired"] = readings[i].against(readings[ref]).to_dict()
    return {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "samples": sample_set.name,
            "environment": collect(full=any(r["backend"] == "tensorrt" for r in results)),
            "config": {"batches": list(cfg.batches), "clients": list(cfg.clients), "warmup": cfg.warmup,
                       "iters": cfg.iters,
                       "seconds": cfg.seconds, "threads": cfg.threads, "spin": cfg.spin},
            "results": results}


# ---- reports ------------------------------------------------------------------------------

def to_markdown(report: dict) -> str:
    """The report as Markdown tables (latency per model and batch; accuracy side by side)."""
    env = report["environment"]
    lines = [f"# lpr-edge bench ({report['created']})", "",
             f"Machine: {env.get('cpu')}; {env.get('platform')}; onnxruntime {env.get('onnxruntime')}; "
             f"TensorRT {env.get('tensorrt') or 'absent'}" + (f"; GPU {env['cuda_device'].get('name')}"
                                                            if env.get("cuda_device", {}).get("available") else ""),
             f"Samples: {report['samples']}", "",
             "Latency: end to end = crops in -> strings out (preprocess + model + decode); compute = the model alone "
             "on the first pass (with the cross-check: the crops and their padded views, twice the batch).",
             "",
             "Several clients: each its own Recognizer on its own thread, all at once; latency per request, "
             "plates/s over the wall time.", "",
             f"A percentile shows as - where fewer than {TAIL_SAMPLES} samples lie beyond it (p90 needs "
             f"{round(TAIL_SAMPLES / 0.1)} samples, p99 {round(TAIL_SAMPLES / 0.01)}).", "",
             "| model | backend | precision | clients | batch | e2e p50 ms | e2e p90 ms | e2e p99 ms | compute p50 ms "
             "| ms/plate | plates/s | stages p50 ms |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        for row in r["latency"]:
            e, c = row["end_to_end_ms"], row["compute_ms"]
            st = ", ".join(f"{k} {v:.2f}" for k, v in row["stages_ms_p50"].items())
            lines.append(f"| {_short(r['model'])} | {r['backend']} | {r['precision']} | {row.get('clients', 1)} "
                         f"| {row['batch']} "
                         f"| {e['p50']:.2f} "
                         f"| {_ms(e['p90'])} | {_ms(e['p99'])} | {c['p50']:.2f} | {row['per_plate_ms']['p50']:.3f} "
                         f"| {row['throughput_plates_s']:.0f} | {st} |")
    if any("accuracy" in r for r in report["results"]):
        lines += ["", "| model | precision | plates | perfect match | per-char match | delta vs reference | agreement "
                      "| plates gained / lost | McNemar p |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in report["results"]:
            a = r.get("accuracy")
            if not a:
                continue
            delta = f"{a['perfect_match_delta'] * 100:+.2f} pt" if "perfect_match_delta" in a else "-"
            agree = f"{a['agreement']:.2%}" if "agreement" in a else "-"
            paired = a.get("paired")
            flips = f"+{paired['gained']} / -{paired['lost']} | {paired['p_value']:.2f}" if paired else "- | -"
            lines.append(f"| {_short(r['model'])} | {r['precision']} | {a['plates']} | {a['perfect_match']:.2%} "
                         f"| {a['per_char_match']:.2%} | {delta} | {agree} | {flips} |")
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _short(path: str) -> str:
    return path if "://" in path else path.rsplit("/", 1)[-1]  # a server URL says where it runs


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


def plot_png(report: dict) -> bytes:
    """Latency percentiles per plate and throughput against batch size, one line per model, as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    batches = sorted({row["batch"] for r in report["results"] for row in r["latency"]})
    for i, r in enumerate(report["results"]):
        label = f"{_short(r['model'])} ({r['backend']}, {r['precision']})"
        b = [row["batch"] for row in r["latency"]]
        for pct, style in (("p50", "-o"), ("p90", "--"), ("p99", ":")):  # one colour per model
            points = [(row["batch"], row["end_to_end_ms"][pct] / row["batch"]) for row in r["latency"]
                      if row["end_to_end_ms"][pct] is not None]
            if points:
                ax1.plot(*zip(*points), style, color=f"C{i}", label=f"{label} {pct}")
        ax2.plot(b, [row["throughput_plates_s"] for row in r["latency"]], "-o", color=f"C{i}", label=label)
    ax1.set(xscale="log", xlabel="batch size", ylabel="end-to-end ms per plate",
            title="Latency per plate (p50/p90/p99)")
    ax2.set(xscale="log", xlabel="batch size", ylabel="plates / s (p50)", title="Throughput")
    for ax in (ax1, ax2):
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"lpr-edge bench: {report['environment'].get('cpu')}", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def terminal_table(report: dict) -> str:
    """A compact plain-text summary for the terminal."""
    out = [f"samples: {report['samples']}   cpu: {report['environment'].get('cpu')}"]
    rows = [["model", "backend", "prec", "clients", "batch", "e2e p50 ms", "p99 ms", "compute ms", "plates/s"]]
    for r in report["results"]:
        for row in r["latency"]:
            rows.append([_short(r["model"]), r["backend"], r["precision"], str(row.get("clients", 1)),
                         str(row["batch"]), _ms(row["end_to_end_ms"]["p50"]), _ms(row["end_to_end_ms"]["p99"]),
                         _ms(row["compute_ms"]["p50"]), f"{row['throughput_plates_s']:.0f}"])
    # columns as wide as their longest entry: text left-aligned, numbers right-aligned
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    for row in rows:
        out.append("  ".join(cell.ljust(w) if k < 3 else cell.rjust(w) for k, (cell, w) in enumerate(zip(row, widths))))
    if any(row["end_to_end_ms"]["p99"] is None for r in report["results"] for row in r["latency"]):
        out.append(f"(p99: - where fewer than {round(TAIL_SAMPLES / 0.01)} samples; --iters or --seconds for more)")
    for r in report["results"]:
        a = r.get("accuracy")
        if a:
            extra = (f"  delta {a['perfect_match_delta'] * 100:+.2f} pt  agreement {a['agreement']:.2%}  "
                     f"{describe_change(a['paired'])}"
                     if "agreement" in a else "")
            out.append(f"accuracy {_short(r['model'])} ({r['precision']}): {a['plates']} plates, perfect "
                       f"{a['perfect_match']:.2%}, per-char {a['per_char_match']:.2%}{extra}")
    return "\n".join(out)
