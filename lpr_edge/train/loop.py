"""``lpr-edge train``: CTC training of the default LPRNet with progress, checkpoints and resume.

Run ``python -m lpr_edge.train --help``. A run folder holds ``last.pt`` (resume point, written
every ``--ckpt-every`` steps), ``best.pt`` (best validation perfect-match), ``log.jsonl`` and the
split it used (``val.csv``/``train.csv``). Re-running the same command resumes from ``last.pt``.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..atomic import atomic_open, write_bytes
from ..datasets import load_dataset, load_images, split, write_split
from ..decode import decode_logits
from ..errors import InputError
from ..metrics import score
from ..preprocess import preprocess_batch
from ..spec import ModelSpec, US_CHARSET
from .data import PlateStream, collate, load_real, synth_pool
from .model import LPRNet
from .options import add_arguments



def default_spec() -> ModelSpec:
    """The bundled US model's spec: TAO US contract, O read as 0."""
    return ModelSpec(name="lprnet_us", charset=US_CHARSET, blank=35, label_map={"O": "0"})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpr-edge train", description="Train the US LPRNet with CTC loss.")
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
    acc = score(preds, [spec.normalise_label(l) for l in labels])
    return acc.to_dict()


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) and return the path of the best checkpoint."""
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = default_spec()
    widths = tuple(int(w) for w in str(args.widths).split(","))
    net = LPRNet(spec.num_classes, widths, args.head).to(args.device)
    # Exported weights are an exponential moving average of the trained ones (BN buffers included)
    # when --ema is set: smoother, usually better on unseen plates.
    ema = (torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema),
                                               use_buffers=True) if args.ema else None)
    shipped = (lambda: ema.module) if ema else (lambda: net)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    step, best = 0, -1.0
    last = out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location=args.device, weights_only=False)
        if ck.get("total_steps", args.steps) != args.steps:
            raise InputError(f"{last} belongs to a run of --steps {ck['total_steps']}; resume with the same "
                             "--steps or start a new run with another --out")
        net.load_state_dict(ck.get("raw_model", ck["model"]))
        if ema is not None and "ema" in ck:
            ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        step, best = ck["step"], ck["best"]
        print(f"resumed from {last} at step {step}")

    real_train, val_images, val_labels = [], [], []
    real_imgs, real_lbls = [], []
    if args.real:
        ds = load_dataset(args.real)
        real_train, val = split(ds.samples, args.val_fraction)
        write_split(real_train, out / "train.csv")
        write_split(val, out / "val.csv")
        val_images, val_kept, _ = load_images(val)
        val_labels = [s.text for s in val_kept]
        real_imgs, real_lbls = load_real(real_train, spec)
        print(f"real plates: {len(real_imgs)} train, {len(val_images)} validation (never trained on)")
    pool_imgs, pool_texts = synth_pool(args.synth, args.seed, out, progress=not args.no_progress)
    stream = PlateStream(spec, pool_imgs, pool_texts, real_imgs, real_lbls, args.real_fraction, args.seed, step)
    loader = DataLoader(stream, batch_size=args.batch, collate_fn=collate, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    ctc = torch.nn.CTCLoss(blank=spec.blank, zero_infinity=True)
    meta = {"spec": spec.to_dict(), "widths": widths, "head": args.head}
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=step, desc="training", unit="step", disable=args.no_progress)
    net.train()
    t0, seen = time.time(), 0
    running = None
    with open(out / "log.jsonl", "a", encoding="utf-8") as log:
        for images, targets, lengths in loader:
            if step >= args.steps:
                break
            images = images.to(args.device)
            logits = net(images)                                # [N, T, C]
            log_probs = logits.log_softmax(-1).permute(1, 0, 2)  # [T, N, C]
            in_lens = torch.full((images.shape[0],), log_probs.shape[0], dtype=torch.long)
            loss = ctc(log_probs, targets, in_lens, lengths)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(net)
            step += 1
            seen += images.shape[0]
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", plates_s=f"{seen / (time.time() - t0):.0f}")
            record = {"step": step, "loss": loss.item()}
            if val_images and (step % args.eval_every == 0 or step == args.steps):
                record["val"] = evaluate(shipped(), val_images, val_labels, spec, args.device)
                bar.write(f"step {step}: loss {running:.3f} val {record['val']}")
                if record["val"]["perfect_match"] > best:
                    best = record["val"]["perfect_match"]
                    _save(out / "best.pt", {"model": shipped().state_dict(), "step": step, "val": record["val"], **meta})
            if step % args.ckpt_every == 0 or step == args.steps:
                _save(last, {"model": shipped().state_dict(), "raw_model": net.state_dict(),
                             **({"ema": ema.state_dict()} if ema is not None else {}),
                             "opt": opt.state_dict(), "sched": sched.state_dict(),
                             "step": step, "best": best, "total_steps": args.steps, **meta})
            log.write(json.dumps(record) + "\n")
            log.flush()
    bar.close()
    if not (out / "best.pt").exists():  # no validation data: the last weights are the result
        _save(out / "best.pt", {"model": shipped().state_dict(), "step": step, **meta})
    with atomic_open(out / "summary.json", "w", encoding="utf-8") as fh:
        options = {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, type(None)))}
        json.dump({"steps": step, "best_val_perfect_match": best, "args": options}, fh, indent=2)
    return out / "best.pt"


def main(argv: list[str] | None = None) -> int:
    train(build_parser().parse_args(argv))
    return 0
