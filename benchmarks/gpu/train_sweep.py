"""Train several US recipes side by side on one GPU machine, inside a fixed wall-clock budget.

Made for the lent GPU machines (one H100/H200, 16 cores, 15 minutes of device time a session):
the network is small, so the GPU waits on the data workers that draw the synthetic and real
plates; several runs in parallel keep both busy. Each run is ``python -m lpr_edge.train`` with
``--device cuda``. At the deadline the runs still going are stopped (their ``last.pt``, written
every ``--ckpt-every`` steps, resumes with the same command on any machine), and every run is
packed into ``OUT/<run>.tar`` parts of at most 15 MiB (what the device tool brings back):
finished runs as ``best.pt`` + ``final.pt`` (weights only), unfinished ones with the full
``last.pt``. ``OUT/sweep.json`` records steps, wall time and steps/s per run.

    python benchmarks/gpu/train_sweep.py --data DIR --out OUT [--deadline 480] [--steps 9000]

Reproduce the recorded sweep: see benchmarks/README.md ("Training on a GPU").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

RECIPES = {  # name -> flags beyond the common ones (all: --augment world, the v4 recipe)
    "world_2x": ["--seed", "0"],
    "world_2x_s1": ["--seed", "1"],
    "wide_2x": ["--seed", "0", "--widths", "48,96,144", "--head", "256"],
}
PART = 15 * 2**20


def launch(name: str, extra: list[str], args, work: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lpr_edge.train", "--out", str(work / name), "--real", args.data,
           "--augment", "world", "--device", args.device, "--workers", str(args.workers), "--threads", "1",
           "--steps", str(args.steps), "--synth", str(args.synth), "--eval-every", "500",
           *extra]
    (work / name).mkdir(parents=True, exist_ok=True)
    log = open(work / name / "stdout.log", "w")
    print(" ".join(cmd), flush=True)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})


def run_steps(flags: list[str], default: int) -> int:
    """The steps a run trains: its own last ``--steps`` (argparse keeps the last one), else the sweep's."""
    given = [flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == "--steps"]
    return int(given[-1]) if given else default


def steps_done(run: Path) -> int:
    log = run / "log.jsonl"
    if not log.exists():
        return 0
    for line in reversed(log.read_text().splitlines()):
        try:
            return json.loads(line)["step"]
        except ValueError:  # a line being written right now
            continue
    return 0


def pack(run: Path, finished: bool, out: Path) -> list[str]:
    """The run's results as tar parts of at most 15 MiB under ``out``."""
    import torch

    files = ("log.jsonl", "summary.json", "val.csv", "train.csv", "best.pt", "stdout.log")
    keep = [run / n for n in files if (run / n).exists()]
    if finished and (run / "last.pt").exists():
        ck = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
        slim = {k: v for k, v in ck.items() if k not in ("opt", "sched", "raw_model", "ema")}
        torch.save(slim, run / "final.pt")
        keep.append(run / "final.pt")
    elif (run / "last.pt").exists():
        keep.append(run / "last.pt")
    tar_path = out / f"{run.name}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for p in keep:
            tar.add(p, arcname=f"{run.name}/{p.name}")
    if tar_path.stat().st_size <= PART:
        return [tar_path.name]
    data, names = tar_path.read_bytes(), []
    tar_path.unlink()
    for i in range(0, len(data), PART):
        name = f"{run.name}.tar.{i // PART:02d}"
        (out / name).write_bytes(data[i:i + PART])
        names.append(name)
    return names


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="labelled US crops (labels.csv folder)")
    p.add_argument("--out", required=True, help="where the packed runs and sweep.json go")
    p.add_argument("--work", default="/tmp/sweep", help="run folders")
    p.add_argument("--deadline", type=float, default=480, help="seconds after which unfinished runs are stopped")
    p.add_argument("--steps", type=int, default=9000)
    p.add_argument("--synth", type=int, default=20000, help="synthetic pool size per run")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 4) // len(RECIPES) - 1))
    p.add_argument("--device", default="cuda")
    p.add_argument("--only", default="", help="comma-separated recipe names (default: all)")
    args = p.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    names = [n for n in RECIPES if not args.only or n in args.only.split(",")]
    import torch

    print(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}"
          + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "") + f", {os.cpu_count()} cpus")
    t0 = time.time()
    procs = {n: launch(n, RECIPES[n], args, work) for n in names}
    while any(pr.poll() is None for pr in procs.values()) and time.time() - t0 < args.deadline:
        time.sleep(10)
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip() if shutil.which("nvidia-smi") else "-"
        print(f"{time.time() - t0:5.0f} s  gpu {gpu}  " + "  ".join(f"{n} {steps_done(work / n)}" for n in names),
              flush=True)
    for pr in procs.values():
        if pr.poll() is None:
            pr.terminate()  # the trainer writes last.pt and exits
    for pr in procs.values():
        try:
            pr.wait(30)
        except subprocess.TimeoutExpired:
            pr.kill()
    wall = time.time() - t0
    report = {"device": args.device, "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "steps": args.steps, "workers_per_run": args.workers, "cpus": os.cpu_count(),
              "wall_s": round(wall, 1), "runs": {}}
    for n in names:
        run = work / n
        done = steps_done(run)
        flags = RECIPES[n]
        steps = run_steps(flags, args.steps)
        finished = (run / "summary.json").exists() and done >= steps
        report["runs"][n] = {"flags": flags, "steps": steps, "steps_done": done, "finished": finished,
                             "returncode": procs[n].returncode, "steps_per_s": round(done / wall, 2),
                             "parts": pack(run, finished, out) if run.exists() else []}
        tail = (run / "stdout.log").read_text().splitlines()[-5:]
        print(f"--- {n}: {done} steps, finished={finished}, rc={procs[n].returncode}\n" + "\n".join(tail))
    (out / "sweep.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
