"""The bench harness end to end on the CPU, and the LPRNet_Pytorch conversion on the real checkpoint."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lpr_edge.cli import main as cli
from lpr_edge.evaluation.bench import BenchConfig, bench_models, to_markdown
from lpr_edge.evaluation.harness import SampleSet, synthetic_sample_set
from lpr_edge.toolchain.calibrate import collect_amax, make_cache
from lpr_edge.toolchain.qdq import make_qdq_model

from ..conftest import CCPD_DATA, need, toy_model_and_crops


def test_bench_two_precisions_side_by_side(tmp_path):
    fp32, spec, crops = toy_model_and_crops(tmp_path, 16)
    cache = make_cache(collect_amax(fp32, crops, spec, "max"), "10.3", "max")
    int8 = make_qdq_model(fp32, cache, tmp_path / "toy.qdq.onnx")
    from lpr_edge import Recognizer

    with Recognizer(fp32) as rec:
        labels = [r.text for r in rec.recognize_batch(crops)]
    labels[0] = "WRONG"
    report = bench_models([str(fp32), str(int8)], SampleSet("toy", crops, labels=labels),
                          BenchConfig(batches=(1, 4), warmup=1, iters=3))
    assert [r["precision"] for r in report["results"]] == ["fp32", "int8"]
    lat = report["results"][0]["latency"]
    assert [row["batch"] for row in lat] == [1, 4]
    for row in lat:
        assert set(row["end_to_end_ms"]) == {"mean", "p50", "p90", "p99", "min", "max", "n"}
        assert row["end_to_end_ms"]["n"] == 3 and row["throughput_plates_s"] > 0
        assert row["end_to_end_ms"]["p90"] is None and row["end_to_end_ms"]["p99"] is None  # 3 samples: a median
        assert set(row["stages_ms_p50"]) == {"preprocess", "infer", "decode", "cross_check"}
    acc = report["results"][0]["accuracy"]
    assert acc["plates"] == 16 and acc["perfect_match"] == pytest.approx(15 / 16)
    assert acc["errors"][0]["label"] == "WRONG"
    assert "perfect_match_delta" not in acc and acc["reference"] == str(fp32)  # the reference row
    assert report["results"][1]["accuracy"]["reference"] == str(fp32)
    int8_acc = report["results"][1]["accuracy"]
    assert 0.9 <= int8_acc["agreement"] <= 1.0
    # Plate 0 is misread by both (its label is WRONG): not a gain or a loss.
    assert int8_acc["paired"]["gained"] + int8_acc["paired"]["lost"] <= int8_acc["paired"]["changed"] <= 16
    md = to_markdown(report)
    assert "| toy.qdq.onnx | onnxruntime | int8 | 1 | 4 |" in md and "agreement" in md and "McNemar p" in md
    assert {"cpu", "onnxruntime", "python"} <= set(report["environment"])


def test_percentiles_only_where_the_samples_support_them():
    """lpr-edge bench printed a p99 from 20 samples; a percentile needs TAIL_SAMPLES samples beyond it."""
    from lpr_edge.evaluation.bench import stats, terminal_table

    assert stats(range(20))["p90"] is None and stats(range(20))["p50"] == 9.5
    assert stats(range(50))["p90"] is not None and stats(range(499))["p99"] is None
    assert stats(range(500))["p99"] == pytest.approx(494.01)
    row = {"batch": 32, "clients": 1, "end_to_end_ms": stats([12345.678] * 20), "compute_ms": stats([3.0] * 20),
           "throughput_plates_s": 2.6}
    report = {"samples": "s", "environment": {"cpu": "c"},
              "results": [{"model": "/m/a-rather-long-model-name.int8.trt10.3.0.orin.engine", "backend": "tensorrt",
                           "precision": "int8", "latency": [row, {**row, "batch": 1}]}]}
    lines = terminal_table(report).splitlines()
    header, first, second = lines[1], lines[2], lines[3]
    assert len(header) == len(first) == len(second)  # long numbers and names keep the columns aligned
    assert first.endswith("12345.68       -        3.00         3") and "(p99: - where fewer" in lines[-1]


def test_bench_cli_writes_json_markdown_plot(tmp_path, toy_model_path, capsys):
    out = tmp_path / "r"
    argv = ["bench", str(toy_model_path), "--batch", "1,2", "--iters", "2", "--warmup", "0",
            "--json", f"{out}.json", "--markdown", f"{out}.md", "--plot", f"{out}.png"]
    assert cli(argv) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["samples"].startswith("synthetic") and len(report["results"][0]["latency"]) == 2
    assert (tmp_path / "r.md").read_text().startswith("# lpr-edge bench")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plates/s" in capsys.readouterr().out


def test_synthetic_sample_set_is_deterministic():
    a, b = synthetic_sample_set(5, seed=1), synthetic_sample_set(5, seed=1)
    assert a.labels == b.labels and all((x == y).all() for x, y in zip(a.images, b.images))
    assert synthetic_sample_set(5, seed=2).labels != a.labels


@pytest.mark.slow
def test_lprnet_pytorch_conversion_on_real_checkpoint(tmp_path):
    pytest.importorskip("torch")
    weights = need(CCPD_DATA / "weights" / "Final_LPRNet_model.pth")
    from lpr_edge import Recognizer
    from lpr_edge.convert.lprnet_pytorch import convert, torch_logits
    from lpr_edge.datasets import load_dataset, load_images
    from lpr_edge.evaluation.harness import evaluate
    from lpr_edge.runtime.preprocess import preprocess_batch

    out = convert(weights, tmp_path / "ccpd.onnx")
    samples = load_dataset(CCPD_DATA).samples
    with Recognizer(out, max_batch=100) as big:
        report = evaluate(big, samples)
        assert report.accuracy.perfect_match >= 0.89
        images, _, _ = load_images(samples[:8])
        x = preprocess_batch(images, big.spec)
        import onnxruntime as ort

        onnx_logits = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"data": x})[0]
        np.testing.assert_allclose(onnx_logits, torch_logits(weights, x), atol=1e-3)
    with Recognizer(out, max_batch=1) as one:
        assert [r.text for r in one.recognize_batch(images)] == [r.text for r in report.results[:8]]
