"""PlateBatcher (robot integration) and the ROS 2 example's logic without ROS."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from lpr_edge import Recognizer
from lpr_edge.batcher import PlateBatcher  # the documented path
from lpr_edge.errors import InputError

from ..conftest import BANDS, REPO, toy_crop, toy_spec


def test_batcher_batches_filters_and_survives_bad_crops(toy_model_path):
    spec = toy_spec()
    published, errors = [], []
    now = [0.0]
    with Recognizer(toy_model_path, max_batch=4) as rec:
        b = PlateBatcher(rec, published.append, batch_size=3, max_wait_s=0.05, min_confidence=0.5,
                         on_error=lambda tag, exc: errors.append(tag), clock=lambda: now[0])
        b.submit(toy_crop(BANDS, spec), "f1")
        b.submit(toy_crop([""] * 8, spec), "f2")  # empty reading: not published
        assert not published
        b.submit(None, "f3")  # bad crop: reported, the others still read
        assert [r.tag for r in published] == ["f1"] and errors == ["f3"]
        b.submit(toy_crop(["A"] * 8, spec), "f4")
        b.poll()
        assert len(published) == 1
        now[0] = 0.06
        b.poll()
        assert [(r.tag, r.result.text) for r in published] == [("f1", "ABCA"), ("f4", "A")]
        assert b.stats["rejected"] == 1 and b.stats["below_confidence"] == 1


def test_ros2_example_without_ros():
    spec = importlib.util.spec_from_file_location("ros2_lpr_node", REPO / "examples" / "ros2_lpr_node.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # importable without rclpy
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 255
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    bgr = mod.image_msg_to_bgr(2, 3, "rgb8", 12, padded.tobytes())
    assert bgr.shape == (2, 3, 3) and (bgr[..., 2] == 255).all() and (bgr[..., 0] == 0).all()
    assert mod.image_msg_to_bgr(2, 3, "mono8", 3, bytes(6)).shape == (2, 3)
    with pytest.raises(InputError, match="encoding"):
        mod.image_msg_to_bgr(2, 3, "yuv422", 6, bytes(12))
    with pytest.raises(InputError, match="does not match"):
        mod.image_msg_to_bgr(2, 3, "bgr8", 9, bytes(5))
    if importlib.util.find_spec("rclpy") is None:
        assert mod.main([]) == 2

