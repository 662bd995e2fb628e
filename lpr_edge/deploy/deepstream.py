"""``lpr-edge export deepstream``: the plate-reading stage of a DeepStream pipeline.

Writes what NVIDIA's deepstream_lpr_app expects for its LPR secondary GIE: an nvinfer config
(``lpr_config_sgie.txt``), ``dict.txt`` with one symbol per line in the model's class order (the
parser takes class index == number of lines as the CTC blank), and the model beside them. The
parser (``NvDsInferParseCustomNVPlate``) needs the two TAO outputs (INT32 class per slice, FP32
probability) and keeps readings of 3 or more characters.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..atomic import atomic_dir
from ..errors import InputError
from .source import ExportSource, export_source, onnx_type_name

NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}
CONFIG_NAME = "lpr_config_sgie.txt"


def check_deepstream_contract(src: ExportSource) -> None:
    """Refuse, with the reason, a model NVIDIA's LPR parser or nvinfer's preprocessing cannot run."""
    spec = src.spec
    problems = []
    if spec.output_kind != "argmax_max":
        problems.append("its outputs are logits; the LPR parser reads the TAO pair (class per slice, its probability)")
    elif [onnx_type_name(src.output_types[o]) for o in spec.outputs] != ["INT32", "FLOAT"]:
        problems.append(f"its outputs are {[onnx_type_name(src.output_types[o]) for o in spec.outputs]}; the parser "
                        "takes INT32 classes and FLOAT probabilities")
    if spec.blank != len(spec.charset):
        problems.append(f"its blank is class {spec.blank}; the parser takes the class after the last symbol")
    if len(set(spec.scale)) != 1:
        problems.append(f"its scale differs per channel {spec.scale}; nvinfer has one net-scale-factor")
    if spec.layout != "NCHW":
        problems.append("its input is NHWC; nvinfer feeds NCHW")
    if spec.time_steps * 4 != spec.width:
        problems.append(f"it has {spec.time_steps} slices for width {spec.width}; the parser assumes width/4")
    if problems:
        raise InputError(f"{src.onnx_path} cannot run with DeepStream's LPR parser: " + "; ".join(problems))


def sgie_config(src: ExportSource, batch_size: int, gie_id: int, operate_on: int, model_file: str,
                engine_file: str | None) -> str:
    """The nvinfer ``[property]`` config of the LPR stage (NVIDIA's lpr_config_sgie_us.txt, filled in)."""
    spec = src.spec
    offsets = ";".join(f"{m:g}" for m in spec.mean)
    lines = ["[property]", "gpu-id=0", f"onnx-file={model_file}"]
    if engine_file:
        lines.append(f"model-engine-file={engine_file}")
    lines += [
        "labelfile-path=dict.txt",
        f"batch-size={batch_size}",
        "## 0=FP32, 1=INT8, 2=FP16",
        f"network-mode={NETWORK_MODE.get(src.precision, 2) if engine_file else 2}",
        f"num-detected-classes={spec.num_classes}",
        f"gie-unique-id={gie_id}",
        f"output-blob-names={';'.join(spec.outputs)}",
        "## 1=classifier",
        "network-type=1",
        "parse-classifier-func-name=NvDsInferParseCustomNVPlate",
        "custom-lib-path=nvinfer_custom_lpr_parser/libnvdsinfer_custom_impl_lpr.so",
        "## 2=secondary: runs on the objects (plates) of the GIE below",
        "process-mode=2",
        f"operate-on-gie-id={operate_on}",
        f"net-scale-factor={spec.scale[0]!r}",
    ]
    if any(spec.mean):
        lines.append(f"offsets={offsets}")
    lines += ["## 0=RGB 1=BGR", f"model-color-format={0 if spec.color == 'RGB' else 1}", "",
              "[class-attrs-all]", "threshold=0.5", ""]
    return "\n".join(lines)


def export_deepstream(out: str | os.PathLike, model: str | None = None, engine: str | None = None, *,
                      batch_size: int | None = None, gie_id: int = 3, operate_on: int = 2,
                      force: bool = False) -> Path:
    """Write the LPR stage's config, ``dict.txt`` and model into the folder ``out``."""
    src = export_source(model, engine)
    check_deepstream_contract(src)
    if batch_size is None:
        batch_size = src.manifest.profile[2] if src.manifest else 16
    if batch_size < 1 or gie_id < 1 or operate_on < 1:
        raise InputError("--batch-size, --gie-id and --operate-on-gie-id must be at least 1")
    if src.manifest and batch_size > src.manifest.profile[2]:
        raise InputError(f"--batch-size {batch_size} is over the engine's largest batch {src.manifest.profile[2]}")
    model_file = src.onnx_path.name
    engine_file = src.engine_path.name if src.engine_path else None
    with atomic_dir(out, replace=force) as folder:
        shutil.copyfile(src.onnx_path, folder / model_file)
        if src.engine_path:
            shutil.copyfile(src.engine_path, folder / engine_file)
        (folder / "dict.txt").write_text("\n".join(src.spec.charset) + "\n", encoding="utf-8")
        (folder / CONFIG_NAME).write_text(sgie_config(src, batch_size, gie_id, operate_on, model_file, engine_file),
                                          encoding="utf-8")
    return Path(out)
