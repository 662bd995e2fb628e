"""What a training run starts from: the model's spec, the real crops (split by plate, labels
checked against the charset) and the network (fresh, or warm-started with ``--init``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..datasets import apply_corrections, load_corrections, load_dataset, load_images, split, write_split
from ..errors import DatasetError, InputError, SpecError
from ..spec import US_CHARSET, ModelSpec
from .data import load_real
from .model import LPRNet
from .options import TrainOptions


def default_spec() -> ModelSpec:
    """The bundled US model's spec: TAO US contract, O read as 0."""
    return ModelSpec(name="lprnet_us", charset=US_CHARSET, blank=35, label_map={"O": "0"})


def parse_label_map(text: str) -> dict[str, str]:
    """``"O=0,Q=0"`` -> ``{"O": "0", "Q": "0"}``."""
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or len(p[0].strip()) != 1 for p in pairs):
        raise InputError(f"--label-map {text!r}: write single characters as A=B pairs separated by commas, e.g. O=0")
    return {a.strip(): b.strip() for a, b in pairs}


def model_spec(opts: TrainOptions, source: ModelSpec | None) -> ModelSpec:
    """The spec of the model being trained: the --init model's, with --charset/--label-map/--name,
    and no framing: where a model's characters sit is a property of its weights, so a fine-tuned
    model gets its own with ``lpr-edge framing`` (until then it keeps its first readings)."""
    base = source or default_spec()
    charset = opts.charset or base.charset
    if opts.label_map is not None:
        label_map = parse_label_map(opts.label_map)
    else:  # keep mappings whose source symbol is still not a class of its own
        label_map = {a: b for a, b in base.label_map.items() if a not in charset}
    name = opts.name or base.name
    try:
        return base.replace(name=name, charset=charset, blank=len(charset), label_map=label_map, framing={})
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


def load_real_split(opts: TrainOptions, spec: ModelSpec, out: Path):
    """Real training crops and the validation crops (split by plate text, written to ``out``)."""
    if not opts.real:
        return [], [], [], []
    ds = load_dataset(opts.real)
    real_train, val = split(ds.samples)
    if opts.relabel:
        fixes = load_corrections(opts.relabel)
        real_train, n_train, out_train = apply_corrections(real_train, fixes, ds.root, known=ds.samples)
        val, n_val, out_val = apply_corrections(val, fixes, ds.root, known=ds.samples)
        print(f"--relabel: {n_train + n_val} label(s) corrected, {len(out_train) + len(out_val)} crop(s) left out")
    check_labels(real_train + val, spec)
    if opts.train_plates:
        real_train = subset_plates(real_train, opts.train_plates, opts.seed)
    write_split(real_train, out / "train.csv")
    write_split(val, out / "val.csv")
    val_images, val_kept, _ = load_images(val)
    real_imgs, real_lbls = load_real(real_train, spec)
    print(f"real plates: {len(real_imgs)} train, {len(val_images)} validation (never trained on)")
    return real_imgs, real_lbls, val_images, [s.text for s in val_kept]


def build_net(opts: TrainOptions, spec: ModelSpec, source, real_imgs, real_lbls=()) -> tuple[LPRNet, dict]:
    """A fresh network, or the --init model fitted to ``spec``; plus the checkpoint metadata."""
    if source is None:
        widths = tuple(int(w) for w in str(opts.widths).split(","))
        net, head = LPRNet(spec.num_classes, widths, opts.head), opts.head
    else:
        from .warm_start import prepare

        # Only an ONNX source has folded (identity) batch norms to unfold (on the real crops as they
        # are); a checkpoint keeps its own.
        start = prepare(source, spec, real_imgs[:512], opts.seed)
        net, widths, head = start.net, start.widths, start.head
        print(f"initialised from {opts.init}: {len(start.copied_classes)} classes copied"
              + (f", new: {''.join(start.fresh_classes)}" if start.fresh_classes else ""))
    if opts.freeze != "none":
        from .warm_start import freeze

        print(f"frozen: {', '.join(freeze(net, opts.freeze))}")
    return net.to(opts.device), {"spec": spec.to_dict(), "widths": widths, "head": head,
                                 **({"init": str(opts.init)} if opts.init else {})}
