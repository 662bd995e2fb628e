"""``lpr-edge train``: CTC training of LPRNet with progress, checkpoints and resume.

Run ``python -m lpr_edge.train --help``. A run folder holds ``last.pt`` (resume point, written
every 200 steps), ``best.pt`` (best validation perfect-match), ``log.jsonl`` and the
split it used (``val.csv``/``train.csv``). Re-running the same command resumes from ``last.pt``.
"""
from __future__ import annotations

import argparse
import io
import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..atomic import atomic_open, write_bytes
from ..errors import InputError
from ..evaluation.metrics import score
from ..runtime.decode import decode_logits
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from .data import PlateStream, collate, pool_size, pool_styles, synth_pool
from .model import LPRNet
from .options import TrainOptions, add_arguments
from .setup import build_net, load_real_split, model_spec

CHECKPOINT_EVERY = 200  # steps between last.pt writes: what a crash or a stop can lose


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpr-edge train", description="Train LPRNet with CTC loss (from scratch or, "
                                "with --init, fine-tuned from a trained model).")
    add_arguments(p)
    return p


def _save(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes(path, buf.getvalue())


def evaluate(net: LPRNet, images: list[np.ndarray], labels: list[str], spec: ModelSpec, device: str) -> dict:
    """Perfect-match and per-character accuracy of ``net`` on decoded crops."""
    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = torch.from_numpy(preprocess_batch(images[i:i + 64], spec)).to(device)
            preds += [r.text for r in decode_logits(net(x).cpu().numpy(), spec.charset, spec.blank)]
    net.train()
    acc = score(preds, [spec.normalise_label(lbl) for lbl in labels])
    return acc.to_dict()


@dataclass
class Run:
    """The state of one training run (what last.pt holds)."""

    opts: TrainOptions
    out: Path
    spec: ModelSpec
    net: LPRNet
    ema: object
    opt: torch.optim.Optimizer
    sched: object
    meta: dict
    step: int = 0
    best: float = -1.0

    @property
    def shipped(self) -> torch.nn.Module:
        """The weights that are exported: the moving average with --ema, else the trained ones."""
        return self.ema.module if self.ema is not None else self.net

    def checkpoint(self) -> None:
        _save(self.out / "last.pt", {"model": self.shipped.state_dict(), "raw_model": self.net.state_dict(),
                                     **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                                     "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                                     "step": self.step, "best": self.best, "total_steps": self.opts.steps,
                                     **self.meta})

    def resume(self) -> None:
        last = self.out / "last.pt"
        if not last.exists():
            return
        ck = torch.load(last, map_location=self.opts.device, weights_only=False)
        if ck.get("total_steps", self.opts.steps) != self.opts.steps:
            raise InputError(f"{last} belongs to a run of --steps {ck['total_steps']}; resume with the same "
                             "--steps or start a new run with another --out")
        self.net.load_state_dict(ck.get("raw_model", ck["model"]))
        if self.ema is not None and "ema" in ck:
            self.ema.load_state_dict(ck["ema"])
        self.opt.load_state_dict(ck["opt"])
        self.sched.load_state_dict(ck["sched"])
        self.step, self.best = ck["step"], ck["best"]
        print(f"resumed from {last} at step {self.step}")


def resolve_device(device: str) -> str:
    """``auto``: cuda when PyTorch sees a GPU, else cpu; ``cuda`` without one is refused clearly."""
    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if device == "cuda" and not available:
        raise InputError("--device cuda: PyTorch sees no CUDA GPU here (a CPU build, or no driver); "
                         "use --device cpu or auto")
    return device


def start(opts: TrainOptions):
    """Spec, data, network, optimiser and schedule of a run (resumed when last.pt exists)."""
    opts.check()
    opts.device = resolve_device(opts.device)
    torch.manual_seed(opts.seed)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    source = None
    if opts.init:
        from .warm_start import load_source

        source = load_source(opts.init)
    spec = model_spec(opts, source.spec if source else None)
    real_imgs, real_lbls, val_images, val_labels = load_real_split(opts, spec, out)
    net, meta = build_net(opts, spec, source, real_imgs, real_lbls)
    # Exported weights are an exponential moving average of the trained ones (BN buffers included)
    # when --ema is set: smoother, usually better on unseen plates.
    swa = torch.optim.swa_utils
    ema = (swa.AveragedModel(net, multi_avg_fn=swa.get_ema_multi_avg_fn(opts.ema), use_buffers=True)
           if opts.ema else None)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=opts.lr, weight_decay=1e-4)
    # At least two warm-up steps: OneCycleLR divides by the warm-up length.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=opts.steps,
                                                pct_start=max(0.1, 2.5 / opts.steps))
    run = Run(opts, out, spec, net, ema, opt, sched, meta)
    run.resume()
    return run, (real_imgs, real_lbls), (val_images, val_labels)


def _step(run: Run, ctc, images, targets, lengths) -> float:
    """One optimiser step; returns the CTC loss per character it minimised."""
    images = images.to(run.opts.device)
    log_probs = run.net(images).log_softmax(-1).permute(1, 0, 2)  # [N, T, C] -> [T, N, C]
    in_lens = torch.full((images.shape[0],), log_probs.shape[0], dtype=torch.long)
    losses = ctc(log_probs, targets, in_lens, lengths)
    loss = (losses / lengths.clamp(min=1).to(losses.device)).mean()  # CTCLoss's "mean" reduction
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.net.parameters(), 5.0)
    run.opt.step()
    run.sched.step()
    if run.ema is not None:
        run.ema.update_parameters(run.net)
    run.step += 1
    return loss.item()


def train(opts: TrainOptions | argparse.Namespace) -> Path:
    """Train (or resume) and return the path of the best checkpoint."""
    from tqdm import tqdm

    opts = opts if isinstance(opts, TrainOptions) else TrainOptions.from_namespace(opts)
    run, (real_imgs, real_lbls), (val_images, val_labels) = start(opts)
    pool_imgs, pool_texts = synth_pool(pool_size(opts), opts.seed, **pool_styles(opts))
    stream = PlateStream(run.spec, pool_imgs, pool_texts, real_imgs, real_lbls, opts.real_fraction, opts.seed,
                         run.step, augment=opts.augment)
    loader = DataLoader(stream, batch_size=opts.batch, collate_fn=collate, num_workers=opts.workers,
                        persistent_workers=opts.workers > 0)
    ctc = torch.nn.CTCLoss(blank=run.spec.blank, zero_infinity=True, reduction="none")
    # disable=None: no bar where stderr is not a terminal (logs, CI)
    bar = tqdm(total=opts.steps, initial=run.step, desc="training", unit="step", disable=None)
    run.net.train()
    try:
        with StopRequest() as stop:
            _loop(run, loader, ctc, bar, val_images, val_labels, stop)
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM) keeps the steps made since the last checkpoint.
        run.checkpoint()
        bar.close()
        print(f"stopped at step {run.step}; {run.out / 'last.pt'} saved: run the same command to resume")
        raise
    bar.close()
    return _finish(run)


def _loop(run: Run, loader, ctc, bar, val_images, val_labels, stop: "StopRequest") -> None:
    opts = run.opts
    t0, seen, running = time.time(), 0, None
    batches = iter(loader)
    with open(run.out / "log.jsonl", "a", encoding="utf-8") as log:
        while run.step < opts.steps:
            stop.here()  # before the next batch: a data-loader worker may have taken the same Ctrl-C
            images, targets, lengths = next(batches)
            loss = _step(run, ctc, images, targets, lengths)
            seen += images.shape[0]
            running = loss if running is None else 0.98 * running + 0.02 * loss
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", plates_s=f"{seen / (time.time() - t0):.0f}")
            record = {"step": run.step, "loss": loss, "t": round(time.time() - t0, 2)}  # t: seconds since (re)start
            if val_images and (run.step % opts.eval_every == 0 or run.step == opts.steps):
                record["val"] = evaluate(run.shipped, val_images, val_labels, run.spec, opts.device)
                bar.write(f"step {run.step}: loss {running:.3f} val {record['val']}")
                if record["val"]["perfect_match"] > run.best:
                    run.best = record["val"]["perfect_match"]
                    _save(run.out / "best.pt", {"model": run.shipped.state_dict(), "step": run.step,
                                                "val": record["val"], **run.meta})
            if run.step % CHECKPOINT_EVERY == 0 or run.step == opts.steps:
                run.checkpoint()
            log.write(json.dumps(record) + "\n")
            log.flush()


class StopRequest:
    """SIGTERM (a scheduler's or a job queue's stop) and Ctrl-C while training, taken between steps: the
    step in flight finishes and is logged, then :meth:`here` raises KeyboardInterrupt, so ``last.pt`` and
    ``log.jsonl`` always agree. A second Ctrl-C stops at once. Signals can only be caught on the main
    thread; elsewhere nothing changes. The previous handlers come back afterwards."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._note) for sig in (signal.SIGTERM, signal.SIGINT)}
        return self

    def _note(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def here(self) -> None:
        """Stop now if a stop was asked for."""
        if self.signal is not None:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _finish(run: Run) -> Path:
    if not (run.out / "best.pt").exists():  # no validation data: the last weights are the result
        _save(run.out / "best.pt", {"model": run.shipped.state_dict(), "step": run.step, **run.meta})
    with atomic_open(run.out / "summary.json", "w", encoding="utf-8") as fh:
        # what trained: an --init model brings its own widths, whatever --widths/--head said
        trained = {**run.opts.to_dict(), "widths": ",".join(str(w) for w in run.meta["widths"]),
                   "head": run.meta["head"]}
        json.dump({"steps": run.step, "best_val_perfect_match": run.best, "args": trained}, fh, indent=2)
    return run.out / "best.pt"


def main(argv: list[str] | None = None) -> int:
    train(TrainOptions.from_namespace(build_parser().parse_args(argv)))
    return 0
