"""The ROS 2 node under real rclpy (ROS 2's PyPI wheels): crops published as sensor_msgs/Image are all
answered on ``plates``, tracks are fused on ``plate_tracks``, and SIGTERM (how ros2 launch stops a node)
publishes the crops still waiting and the closed tracks, then exits 0 without a traceback."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lpr_edge.datasets import load_dataset, load_images
from lpr_edge.evaluation.margins import crop_at_margin

from ..conftest import REPO, SHARED_DATA, need

PACKAGE = REPO / "ros2" / "lpr_edge_ros"


def test_the_ros_package_holds_what_colcon_and_ros2_launch_need():
    """Runs without ROS: package metadata, the parameter file (the node's own defaults), the launch file."""
    import ast
    import xml.etree.ElementTree as ET

    from lpr_edge.deploy.ros2_node import PARAMETERS

    yaml = pytest.importorskip("yaml", reason="PyYAML reads the parameter file (installed with mkdocs or ROS 2)")

    xml = ET.parse(PACKAGE / "package.xml").getroot()
    assert xml.findtext("name") == "lpr_edge_ros" and xml.find("export/build_type").text == "ament_python"
    assert {"rclpy", "sensor_msgs", "std_msgs"} <= {d.text for d in xml.findall("exec_depend")}
    params = yaml.safe_load((PACKAGE / "config" / "lpr_edge.yaml").read_text())["lpr_edge"]["ros__parameters"]
    assert params == PARAMETERS
    launch = (PACKAGE / "launch" / "lpr_edge.launch.py").read_text()
    ast.parse(launch)
    assert 'executable="lpr_edge_node"' in launch and '"lpr_edge.yaml"' in launch
    assert "lpr_edge_node = lpr_edge_ros.node:main" in (PACKAGE / "setup.py").read_text()
    assert (PACKAGE / "resource" / "lpr_edge_ros").is_file()


NO_ROS = "no ROS 2 wheels here (pip install -e '.[ros]': x86_64, Python 3.10-3.12)"


def image_msg(crop, frame_id):
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = crop.shape[:2]
    msg.encoding, msg.step = "bgr8", crop.shape[1] * 3
    msg.data = crop.tobytes()
    return msg


@pytest.fixture
def ros_env(monkeypatch):
    """A ROS domain of its own on this host, for the node and the test's node."""
    monkeypatch.setenv("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return dict(os.environ)


def spin_until(executor, done, timeout):
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return done()


def test_node_answers_every_crop_fuses_tracks_and_stops_cleanly_on_sigterm(ros_env):
    rclpy = pytest.importorskip("rclpy", reason=NO_ROS)
    need(SHARED_DATA / "openalpr-br-context")
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    images, kept, _ = load_images(load_dataset(SHARED_DATA / "openalpr-br-context").samples[:3])
    crops = [(crop_at_margin(img, s.box, m), f"cam#{s.text}") for img, s in zip(images, kept) for m in (0.0, 0.1, 0.2)]
    crops.append((images[0][:40, :60], "cam"))  # no track id; 10 crops in all
    # batch 4 and a wait of minutes: two full batches run, the last two crops wait until SIGTERM
    # the package's parameter file, then overrides (as ros2 launch ... params_file:= would pass them)
    node = subprocess.Popen([sys.executable, "-m", "lpr_edge.deploy.ros2_node", "--ros-args", "--params-file",
                             str(PACKAGE / "config" / "lpr_edge.yaml"), "-p", "model_path:=br", "-p", "batch_size:=4",
                             "-p", "max_wait_ms:=600000", "-p", "min_confidence:=0.0"],
                            cwd=REPO, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        tester = rclpy.create_node("lpr_edge_test", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(tester)
        plates, tracks = [], []
        tester.create_subscription(String, "plates", lambda m: plates.append(json.loads(m.data)), 100)
        tester.create_subscription(String, "plate_tracks", lambda m: tracks.append(json.loads(m.data)), 100)
        pub = tester.create_publisher(Image, "plate_crops", 100)
        assert spin_until(executor, lambda: pub.get_subscription_count() > 0 and tester.count_publishers("plates") > 0,
                          90), "the node did not come up"
        time.sleep(0.5)  # let discovery settle both ways
        for crop, frame_id in crops:
            pub.publish(image_msg(crop, frame_id))
        assert spin_until(executor, lambda: len(plates) >= 8, 60), f"{len(plates)} of 8 batched readings"
        spin_until(executor, lambda: False, 1.0)  # time for the last two images to reach the node
        assert len(plates) == 8  # ... where they wait for their batch
        node.send_signal(signal.SIGTERM)
        spin_until(executor, lambda: node.poll() is not None and len(plates) >= 10, 60)
        spin_until(executor, lambda: False, 0.5)
    finally:
        rclpy.shutdown(context=context)
        if node.poll() is None:
            node.kill()
        out, err = node.communicate(timeout=30)
    assert node.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "Exception" not in err, err[-2000:]
    assert len(plates) == 10  # every crop answered, the two pending ones at SIGTERM too
    assert sorted(p["track_id"] or "" for p in plates) == sorted(["", *(f.split("#")[1] for _, f in crops[:9])])
    closed = {t["track_id"]: t for t in tracks if t["closed"]}
    assert set(closed) == {s.text for s in kept}  # every track closed at the stop
    assert all(t["views"] == 3 for t in closed.values())
    assert sum(t["text"] == track for track, t in closed.items()) >= 2
