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
from ..errors import DatasetError, InputError, SpecError
from ..evaluation.datasets import load_dataset, load_images, split, write_split
from ..evaluation.metrics import score
from ..runtime.decode import decode_logits
from ..runtime.preprocess import preprocess_batch
from ..spec import US_CHARSET, ModelSpec
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
    acc = score(preds, [spec.normalise_label(lbl) for lbl in labels])
    return acc.to_dict()


def parse_label_map(text: str) -> dict[str, str]:
    """``"O=0,Q=0"`` -> ``{"O": "0", "Q": "0"}``."""
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or len(p[0].strip()) != 1 for p in pairs):
        raise InputError(f"--label-map {text!r}: write single characters as A=B pairs separated by commas, e.g. O=0")
    return {a.strip(): b.strip() for a, b in pairs}


def model_spec(args: argparse.Namespace, source: ModelSpec | None) -> ModelSpec:
    """The spec of the model being trained: the --init model's, with --charset/--label-map/--name."""
    base = source or default_spec()
    charset = args.charset or base.charset
    if args.label_map is not None:
        label_map = parse_label_map(args.label_map)
    else:  # keep mappings whose source symbol is still not a class of its own
        label_map = {a: b for a, b in base.label_map.items() if a not in charset}
    name = args.name or base.name
    try:
        return base.replace(name=name, charset=charset, blank=len(charset), label_map=label_map)
    except SpecError as exc:
        raise InputError(f"--charset {charset!r}: {exc}") from None


def check_labels(samples, spec: ModelSpec) -> None:
    """Refuse labels with symbols outside the charset, naming the file and row of each."""
    bad = [(s, sorted(set(spec.normalise_label(s.text)) - set(spec.charset))) for s in samples]
    bad = [(s, chars) for s, chars in bad if chars]
    if bad:
        lines = "; ".join(f"{s.where()}: {s.text!r} has {''.join(c)}" for s, c in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise DatasetError(f"{len(bad)} label(s) use symbols outside the charset {spec.charset!r}: {lines}{more}; "
                           "fix the labels, add the symbols with --charset or map them with --label-map")


def subset_plates(samples, n: int, seed: int):
    """The crops of ``n`` distinct plates (by label), chosen with ``seed``."""
    texts = sorted({s.text for s in samples})
    rng = np.random.default_rng([seed, n])
    keep = set(rng.permutation(texts)[:n].tolist())
    return [s for s in samples if s.text in keep]


def load_real_split(args: argparse.Namespace, spec: ModelSpec, out: Path):
    """Real training crops and the validation crops (split by plate text, written to ``out``)."""
    if not args.real:
        return [], [], [], []
    ds = load_dataset(args.real)
    check_labels(ds.samples, spec)
    real_train, val = split(ds.samples, args.val_fraction)
    if args.train_plates:
        real_train = subset_plates(real_train, args.train_plates, args.seed)
    write_split(real_train, out / "train.csv")
    write_split(val, out / "val.csv")
    val_images, val_kept, _ = load_images(val)
    real_imgs, real_lbls = load_real(real_train, spec)
    print(f"real plates: {len(real_imgs)} train, {len(val_images)} validation (never trained on)")
    return real_imgs, real_lbls, val_images, [s.text for s in val_kept]


def build_net(args: argparse.Namespace, spec: ModelSpec, source, real_imgs) -> tuple[LPRNet, dict]:
    """A fresh network, or the --init model fitted to ``spec``; plus the checkpoint metadata."""
    if source is None:
        widths = tuple(int(w) for w in str(args.widths).split(","))
        net, head = LPRNet(spec.num_classes, widths, args.head), args.head
    else:
        from .warm_start import prepare

        start = prepare(source, spec, real_imgs[:512], args.seed)
        net, widths, head = start.net, start.widths, start.head
        print(f"initialised from {args.init}: {len(start.copied_classes)} classes copied"
              + (f", new: {''.join(start.fresh_classes)}" if start.fresh_classes else ""))
    if args.freeze != "none":
        from .warm_start import freeze

        print(f"frozen: {', '.join(freeze(net, args.freeze))}")
    return net.to(args.device), {"spec": spec.to_dict(), "widths": widths, "head": head,
                                 **({"init": str(args.init)} if args.init else {})}


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) and return the path of the best checkpoint."""
    if args.steps < 5:
        raise InputError(f"--steps {args.steps}: train for at least 5 steps")
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = None
    if args.init:
        from .warm_start import load_source

        source = load_source(args.init)
    spec = model_spec(args, source.spec if source else None)
    real_imgs, real_lbls, val_images, val_labels = load_real_split(args, spec, out)
    net, meta = build_net(args, spec, source, real_imgs)
    # Exported weights are an exponential moving average of the trained ones (BN buffers included)
    # when --ema is set: smoother, usually better on unseen plates.
    ema = (torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema),
                                               use_buffers=True) if args.ema else None)
    shipped = (lambda: ema.module) if ema else (lambda: net)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-4)
    # At least two warm-up steps: OneCycleLR divides by the warm-up length.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps,
                                                pct_start=max(0.1, 2.5 / args.steps))
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

    pool_imgs, pool_texts = synth_pool(args.synth, args.seed, out, progress=not args.no_progress,
                                       layout=args.synth_layout, emblems=args.augment == "world")
    stream = PlateStream(spec, pool_imgs, pool_texts, real_imgs, real_lbls, args.real_fraction, args.seed, step,
                         augment=args.augment)
    loader = DataLoader(stream, batch_size=args.batch, collate_fn=collate, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    ctc = torch.nn.CTCLoss(blank=spec.blank, zero_infinity=True)
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
                    _save(out / "best.pt",
                          {"model": shipped().state_dict(), "step": step, "val": record["val"], **meta})
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
