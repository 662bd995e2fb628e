"""The model spec: everything needed to feed a plate model and read its outputs.

A spec travels inside the ONNX file (``metadata_props`` key ``lpr_edge.spec``) and beside every
engine (the JSON manifest), so a Recognizer opened on either knows how to use it. Presets cover
models that carry no spec (NVIDIA TAO exports, sirius-ai/LPRNet_Pytorch networks).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import SpecError

METADATA_KEY = "lpr_edge.spec"

US_CHARSET = "0123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"  # TAO dict_us.txt: 0-9, A-Z without O
CN_PROVINCES = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
DIGITS = "0123456789"

OUTPUT_KINDS = ("logits", "argmax_max")
FRAMING_PADS = ("none", "replicate", "median")  # how reframing extends a crop tighter than training
LOGITS_LAYOUTS = ("NTC", "NCT")


@dataclass(frozen=True)
class ModelSpec:
    """How to feed a plate-recognition model and how to read what it returns.

    Pixels are normalised as ``(x - mean[c]) * scale[c]`` with ``x`` in 0..255, channel ``c`` in
    the model's colour order. ``charset`` lists the symbols of every class except the blank, in
    class order; the blank sits at class index ``blank``.
    """

    name: str = "model"
    input_name: str = "image_input"
    height: int = 48
    width: int = 96
    layout: str = "NCHW"
    color: str = "RGB"
    scale: tuple[float, float, float] = (1 / 255, 1 / 255, 1 / 255)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    output_kind: str = "argmax_max"
    outputs: tuple[str, ...] = ("tf_op_layer_ArgMax", "tf_op_layer_Max")
    logits_layout: str = "NTC"
    time_steps: int = 24
    charset: str = US_CHARSET
    blank: int = 35
    label_map: Mapping[str, str] = field(default_factory=dict)
    framing: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise containers through object.__setattr__.
        object.__setattr__(self, "scale", _triple(self.scale, "scale"))
        object.__setattr__(self, "mean", _triple(self.mean, "mean"))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "label_map", dict(self.label_map))
        object.__setattr__(self, "framing", _framing(self.framing, self.name))
        self.check()

    # ---- derived values -------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Number of network classes: every symbol plus the blank."""
        return len(self.charset) + 1

    @property
    def class_symbols(self) -> list[str]:
        """Symbol of each class index, the blank as an empty string."""
        symbols = list(self.charset)
        symbols.insert(self.blank, "")
        return symbols

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one sample without the batch axis, in the model's layout."""
        if self.layout == "NCHW":
            return (3, self.height, self.width)
        return (self.height, self.width, 3)

    def normalise_label(self, text: str) -> str:
        """Map a ground-truth label into this model's alphabet (e.g. ``O`` -> ``0`` for TAO US)."""
        text = text.strip().upper() if self.charset.isascii() else text.strip()
        return "".join(self.label_map.get(ch, ch) for ch in text)

    # ---- validation -----------------------------------------------------------------
    def check(self) -> None:
        """Raise SpecError if the spec contradicts itself."""
        problems = []
        if self.layout not in ("NCHW", "NHWC"):
            problems.append(f"layout must be NCHW or NHWC, not {self.layout!r}")
        if self.color not in ("RGB", "BGR"):
            problems.append(f"color must be RGB or BGR, not {self.color!r}")
        if self.height < 1 or self.width < 1:
            problems.append(f"input size {self.width}x{self.height} must be positive")
        if self.output_kind not in OUTPUT_KINDS:
            problems.append(f"output_kind must be one of {OUTPUT_KINDS}, not {self.output_kind!r}")
        if self.output_kind == "logits" and len(self.outputs) != 1:
            problems.append("a logits spec names exactly one output")
        if self.output_kind == "argmax_max" and len(self.outputs) != 2:
            problems.append("an argmax_max spec names two outputs: indices then scores")
        if self.logits_layout not in LOGITS_LAYOUTS:
            problems.append(f"logits_layout must be NTC or NCT, not {self.logits_layout!r}")
        if not self.charset:
            problems.append("charset is empty")
        if len(set(self.charset)) != len(self.charset):
            problems.append("charset repeats a symbol")
        if not 0 <= self.blank <= len(self.charset):
            problems.append(f"blank index {self.blank} is outside 0..{len(self.charset)}")
        if self.time_steps < 1:
            problems.append("time_steps must be at least 1")
        if any(s == 0 for s in self.scale):
            problems.append("scale has a zero entry")
        if problems:
            raise SpecError(f"invalid model spec {self.name!r}: " + "; ".join(problems))

    # ---- (de)serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        d = dataclasses.asdict(self)
        d["scale"] = list(self.scale)
        d["mean"] = list(self.mean)
        d["outputs"] = list(self.outputs)
        if self.framing:
            d["framing"] = {"margin": self.framing["margin"], "pad": self.framing["pad"],
                            "spans": {n: list(span) for n, span in self.framing["spans"].items()}}
            if self.framing["reread_below"] is not None:
                d["framing"]["reread_below"] = self.framing["reread_below"]
        return d

    def to_json(self) -> str:
        """JSON text (UTF-8 safe, symbols kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelSpec":
        """Build a spec from a dict, naming unknown or bad keys in the error."""
        if not isinstance(data, Mapping):
            raise SpecError("a model spec must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown model spec keys {unknown}; known keys: {sorted(known)}")
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            raise SpecError(f"invalid model spec: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        """Parse the JSON form written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"model spec is not valid JSON ({exc.msg} at char {exc.pos})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed (spec overrides from the CLI)."""
        return dataclasses.replace(self, **changes)


def _framing(value: Any, name: str) -> dict[str, Any]:
    """The framing entry as ``{"margin": float, "spans": {"7": (start, end)}, "pad": ...,
    "reread_below": float or None}``; SpecError when malformed."""
    if not value:
        return {}
    if isinstance(value, Mapping) and value.get("keep", "own") != "own":
        raise SpecError(f"model spec {name!r}: framing 'keep: {value['keep']}' (the cross-check keeping the more "
                        "confident view) is retired; re-fit the framing with lpr-edge framing")
    bad = SpecError(f"invalid model spec {name!r}: framing must be {{'margin': 0..0.5, 'spans': "
                    f"{{'LENGTH': [start, end], ...}}, 'pad': none|replicate|median, "
                    "'reread_below': 0..1 (optional)} with 0 <= start < end <= 1; "
                    "re-fit it with lpr-edge framing")
    if (not isinstance(value, Mapping)
            or not {"margin", "spans"} <= set(value) <= {"margin", "spans", "pad", "keep", "reread_below"}
            or not isinstance(value["spans"], Mapping) or value.get("pad", "none") not in FRAMING_PADS
            ):
        raise bad
    try:
        margin = float(value["margin"])
        spans = {str(int(k)): (float(v[0]), float(v[1])) for k, v in value["spans"].items() if len(v) == 2}
        below = None if value.get("reread_below") is None else float(value["reread_below"])
    except (TypeError, ValueError, KeyError, IndexError):
        raise bad from None
    if (not 0 <= margin <= 0.5 or not spans or len(spans) != len(value["spans"])
            or any(int(k) < 1 or not 0 <= a < b <= 1 for k, (a, b) in spans.items())
            or (below is not None and not 0 < below <= 1)):
        raise bad
    return {"margin": margin, "spans": spans, "pad": value.get("pad", "none"), "reread_below": below}


def _triple(values: Sequence[float] | float, what: str) -> tuple[float, float, float]:
    if isinstance(values, (int, float)):
        values = [values]
    vals = [float(v) for v in values]
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3:
        raise SpecError(f"{what} needs 1 or 3 values, got {len(vals)}")
    return (vals[0], vals[1], vals[2])


# ---- presets --------------------------------------------------------------------------

def _presets() -> dict[str, ModelSpec]:
    tao_us = ModelSpec(name="tao-us", label_map={"O": "0"})
    # TAO dict_ch.txt: 31 provinces + 警 + 学, 24 letters, 10 digits; blank last.
    tao_cn = ModelSpec(name="tao-cn", charset=CN_PROVINCES + "警学" + CN_LETTERS + DIGITS, blank=67)
    lprnet_pytorch = ModelSpec(
        name="lprnet-pytorch",
        input_name="data",
        height=24,
        width=94,
        color="BGR",
        scale=(0.0078125,) * 3,
        mean=(127.5,) * 3,
        output_kind="logits",
        outputs=("logits",),
        logits_layout="NCT",
        time_steps=18,
        charset=CN_PROVINCES + DIGITS + CN_LETTERS + "IO",
        blank=67,
    )
    return {s.name: s for s in (tao_us, tao_cn, lprnet_pytorch)}


PRESETS: dict[str, ModelSpec] = _presets()


def preset(name: str) -> ModelSpec:
    """The preset spec called ``name`` (``tao-us``, ``tao-cn``, ``lprnet-pytorch``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SpecError(f"unknown spec preset {name!r}; choose one of {sorted(PRESETS)}") from None
