"""The plate confidence as the CTC posterior of the reading: the forward algorithm against brute force,
where the probabilities come from (the softmax behind a TAO Max head), and what still uses the
character product (the re-read gate, the cross-check, the plate format's swaps)."""
from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lpr_edge import Recognizer
from lpr_edge.bundled import resolve_model
from lpr_edge.datasets import load_images, load_split
from lpr_edge.formats.onnx_spec import load_onnx, probability_tensor, read_model_spec
from lpr_edge.runtime import reframe
from lpr_edge.runtime.cross_check import combine
from lpr_edge.runtime.decode import PlateResult, char_product, ctc_posterior, greedy_ctc
from lpr_edge.runtime.plate_format import PlateFormat
from lpr_edge.runtime.preprocess import preprocess_batch

from ..conftest import US_DATA, need, toy_spec


def brute_posterior(probs: np.ndarray, label: list[int], blank: int) -> float:
    """Sum over every path of T steps that collapses to ``label`` (merge repeats, drop blanks)."""
    total = 0.0
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        text, prev = [], None
        for k in path:
            if k != blank and k != prev:
                text.append(k)
            prev = k
        if text == label:
            total += float(np.prod([probs[t, k] for t, k in enumerate(path)]))
    return total


def test_posterior_is_the_sum_over_every_alignment():
    rng = np.random.default_rng(3)
    for _ in range(25):
        probs = rng.dirichlet(np.full(4, 0.5), size=(3, 5))      # 3 plates, 5 steps, 3 symbols + blank 3
        labels = [[int(k) for k in rng.integers(0, 3, size=rng.integers(0, 4))] for _ in range(3)]
        labels[0] = [1, 1]                                       # a repeat needs a blank between
        want = [brute_posterior(p, lab, 3) if lab else 0.0 for p, lab in zip(probs, labels)]
        assert ctc_posterior(probs, labels, 3) == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_posterior_of_a_plate_does_not_depend_on_its_batch():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(36), size=(40, 24)).astype(np.float32)
    labels = [[int(k) for k in rng.integers(0, 35, size=rng.integers(1, 9))] for _ in range(40)]
    whole = ctc_posterior(probs, labels, 35)
    parts = np.concatenate([ctc_posterior(probs[i:i + 7], labels[i:i + 7], 35) for i in range(0, 40, 7)])
    assert np.array_equal(whole, parts)  # bit for bit: a server's merged batches give a client the same numbers


def test_a_sure_best_path_has_posterior_near_its_product_and_a_dropped_character_lowers_it():
    spec = toy_spec("argmax_max")  # charset ABC, blank 3, 8 steps
    probs = np.full((2, 8, 4), 0.001, np.float32)
    path = [0, 3, 1, 3, 2, 3, 3, 3]                       # A _ B _ C _ _ _
    for t, k in enumerate(path):
        probs[:, t, k] = 0.997
    probs[1, 6] = [0.001, 0.001, 0.4, 0.598]             # plate 1: a second C may stand at step 6
    indices, scores = probs.argmax(-1).astype(np.int32), probs.max(-1)
    outputs = {"indices": indices, "scores": scores, "p": probs}
    product = greedy_ctc(outputs, spec)
    posterior = greedy_ctc(outputs, spec, probabilities="p")
    assert [r.text for r in posterior] == [r.text for r in product] == ["ABC", "ABC"]
    assert [r.char_confidences for r in posterior] == [r.char_confidences for r in product]
    assert posterior[0].confidence == pytest.approx(0.997 ** 8, rel=0.02)
    # the character product does not see the 40 % on an extra C; the posterior does
    assert product[1].confidence == pytest.approx(product[0].confidence)
    assert posterior[1].confidence < 0.7 * posterior[0].confidence
    assert greedy_ctc(outputs, spec, probabilities="missing") == product  # no such output: the product


def test_logits_models_get_the_posterior_of_their_softmax():
    spec = toy_spec("logits")
    logits = np.random.default_rng(1).normal(size=(4, spec.time_steps, spec.num_classes)).astype(np.float32) * 3
    results = greedy_ctc({spec.outputs[0]: logits.transpose(0, 2, 1)}, spec)  # the toy model's layout is NCT
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    index = {c: i for i, c in enumerate(spec.charset)}
    want = ctc_posterior(probs, [[index[c] for c in r.text] for r in results], spec.blank)
    assert [r.confidence for r in results] == pytest.approx(list(want))


def test_the_softmax_behind_the_max_head_is_found_and_the_bundled_files_keep_two_outputs():
    for name in ("us", "br"):
        model = load_onnx(resolve_model(name))
        spec = read_model_spec(resolve_model(name))
        assert probability_tensor(model, spec) == "/Softmax_output_0"
        assert [o.name for o in model.graph.output] == list(spec.outputs)  # DeepStream's parser takes these two
    assert probability_tensor(onnx.ModelProto(), toy_spec("logits")) is None


def _head(softmax_axis: int, reduce_axes: list[int], op: str = "Softmax") -> onnx.ModelProto:
    nodes = [helper.make_node(op, ["x"], ["p"], axis=softmax_axis),
             helper.make_node("ReduceMax", ["p"], ["scores"], axes=reduce_axes, keepdims=0),
             helper.make_node("ArgMax", ["p"], ["i64"], axis=softmax_axis, keepdims=0),
             helper.make_node("Cast", ["i64"], ["indices"], to=TensorProto.INT32)]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4])],
                              [helper.make_tensor_value_info("indices", TensorProto.INT32, [1, 8]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 8])])
    return helper.make_model(graph)


def test_only_a_softmax_over_the_last_axis_counts_as_the_probabilities():
    spec = toy_spec("argmax_max")
    assert probability_tensor(_head(-1, [-1]), spec) == "p"
    assert probability_tensor(_head(2, [2]), spec) == "p"
    assert probability_tensor(_head(1, [1]), spec) is None        # classes on axis 1: not [N, T, C]
    assert probability_tensor(_head(-1, [-1], "LogSoftmax"), spec) is None


@pytest.fixture(scope="module")
def us_val():
    samples, _ = load_split(need(US_DATA), "val")
    images, kept, _ = load_images(samples)
    return images[:48]


def test_recognizer_confidence_is_the_posterior_of_the_exposed_probabilities(us_val):
    with Recognizer("us", reframe=False, max_batch=64) as rec:
        assert rec.probabilities == "/Softmax_output_0" and not rec.cross_check
        results = rec.recognize_batch(us_val)
        outputs = rec._backend.infer(preprocess_batch(us_val, rec.spec)).outputs
    probs = outputs[rec.probabilities]
    assert probs.shape == (len(us_val), 24, 36) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    spec = rec.spec
    index = {c: i + (i >= spec.blank) for i, c in enumerate(spec.charset)}
    want = ctc_posterior(probs, [[index[c] for c in r.text] for r in results], spec.blank)
    assert [r.confidence for r in results] == pytest.approx(list(want))
    assert any(abs(r.confidence - char_product(r)) > 0.05 for r in results)  # not the product by another name


def test_gate_cross_check_and_plate_format_weigh_the_character_product():
    sure = PlateResult("ABC1234", 0.3, (0.999,) * 7)       # a low posterior, a product of 0.993
    framing = {"margin": 0.1, "spans": {"7": (0.1, 0.9)}, "pad": "none", "reread_below": 0.98}
    indices = np.full((1, 24), 35)
    indices[0, 8:16] = [10, 11, 12, 1, 35, 2, 3, 4]        # characters in the middle third: a loose crop
    assert reframe.windows([(100, 300, 3)], indices, [sure], framing, 35) == [None]  # kept: sure by product
    other = PlateResult("ABC1239", 0.9, (0.5,) * 7)
    out = combine([sure], [other])
    assert out[0].text == "ABC1234" and out[0].confidence == pytest.approx(0.999 ** 7 / 2)
    # a look-alike swapped: the plate confidence is scaled by the swapped character's bound / score
    fitted = PlateFormat.parse("LLL9999").fit(PlateResult("AB81234", 0.5, (1.0, 1.0, 0.8) + (1.0,) * 4))
    assert fitted.text == "ABB1234" and fitted.confidence == pytest.approx(0.5 * 0.2 / 0.8)


def test_a_reduce_max_over_every_axis_or_an_old_softmax_is_not_taken():
    spec = toy_spec("argmax_max")
    model = _head(-1, [-1])
    del model.graph.node[1].attribute[:]                  # ReduceMax with no axes: every axis
    assert probability_tensor(model, spec) is None
    model = _head(-1, [-1])
    del model.graph.node[0].attribute[:]                  # Softmax's default axis: the last from opset 13 on
    assert probability_tensor(model, spec) == "p"
    model.opset_import[0].version = 11                    # before it, axis 1
    assert probability_tensor(model, spec) is None
    model = _head(-1, [-1])                               # opset 18: the axes as a constant input
    del model.graph.node[1].attribute[:]
    model.graph.node[1].attribute.extend([helper.make_attribute("keepdims", 0)])
    model.graph.node[1].input.append("axes")
    model.graph.initializer.append(helper.make_tensor("axes", TensorProto.INT64, [1], [-1]))
    assert probability_tensor(model, spec) == "p"


def test_probabilities_of_the_wrong_shape_leave_the_character_product():
    spec = toy_spec("argmax_max")
    indices = np.array([[0, 3, 1, 3, 2, 3, 3, 3]], np.int32)
    outputs = {"indices": indices, "scores": np.full((1, 8), 0.9, np.float32), "p": np.ones((1, 4, 8), np.float32)}
    assert greedy_ctc(outputs, spec, probabilities="p") == greedy_ctc(outputs, spec)
