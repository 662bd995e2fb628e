"""The ROS 2 node: plate crops in (``sensor_msgs/Image``), readings per crop and fused readings per track out.

    python -m lpr_edge.deploy.ros2_node --ros-args -p model_path:=engines/x.engine
    ros2 launch lpr_edge_ros lpr_edge.launch.py          (the package in ros2/, built with colcon)

Topics: subscribes to ``plate_crops`` (``sensor_msgs/Image``: bgr8, rgb8, mono8, bgra8, rgba8); publishes
``plates`` (``std_msgs/String``, JSON per crop: text, confidence, char_confidences, frame_id, stamp,
track_id) and ``plate_tracks`` (JSON per update of a track: track_id, text, confidence, char_confidences,
views, settled, closed, frame_id, stamp).

Track ids: a crop's ``header.frame_id`` is ``CAMERA_FRAME#TRACK_ID`` (e.g. ``front_camera#17``) where the
detector's tracker knows the vehicle; the part after the last ``#`` is the track id (crops without ``#``
are read on their own). A track's fused reading is published at every crop; it is closed (``closed:
true``) when idle for ``track_idle_s`` and when the node stops.

Parameters (``ros2/lpr_edge_ros/config/lpr_edge.yaml``): ``model_path`` (bundled US model), ``backend``
(auto), ``batch_size`` (8), ``max_wait_ms`` (50), ``min_confidence`` (0.741: 99 % precision for the bundled
US model on its validation crops; choose yours with ``lpr-edge eval``; 0 answers every crop, an empty
reading included), ``cross_check`` (auto/true/false), ``settle_views`` (3), ``track_idle_s`` (2.0).

SIGINT and SIGTERM (how ``ros2 launch`` stops a node) take the crops already delivered, read and publish
every crop still waiting, close the tracks, and exit 0. rclpy is imported only in :func:`main`.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

import numpy as np

from ..errors import InputError, LprEdgeError
from ..runtime.batcher import PlateBatcher, Reading
from ..runtime.tracks import PlateTracks, TrackReading

ENCODINGS = {"bgr8": (3, False), "rgb8": (3, True), "mono8": (1, False), "bgra8": (4, False), "rgba8": (4, True)}

# The node's parameters and their defaults. min_confidence: 99 % precision for the bundled US model on its
# validation crops (docs/guides/loose-crops-and-confidence.md); choose yours with lpr-edge eval.
PARAMETERS = {"model_path": "", "backend": "auto", "batch_size": 8, "max_wait_ms": 50, "min_confidence": 0.741,
              "cross_check": "auto", "settle_views": 3, "track_idle_s": 2.0}


def image_msg_to_bgr(height: int, width: int, encoding: str, step: int, data: bytes) -> np.ndarray:
    """sensor_msgs/Image fields -> an HxWxC uint8 array in BGR(A) order (no cv_bridge needed)."""
    if encoding not in ENCODINGS:
        raise InputError(f"image encoding {encoding!r} is not supported; publish one of {sorted(ENCODINGS)}")
    channels, swap = ENCODINGS[encoding]
    if height <= 0 or width <= 0 or step < width * channels or len(data) < step * height:
        raise InputError(f"image message {width}x{height} (step {step}) does not match its {len(data)} data bytes")
    rows = np.frombuffer(bytes(data), np.uint8, count=step * height).reshape(height, step)
    img = rows[:, : width * channels].reshape(height, width, channels)
    if swap:
        img = img[..., [2, 1, 0] + ([3] if channels == 4 else [])]
    return img[..., 0] if channels == 1 else img


def track_of(tag: Any) -> str | None:
    """The track id in a crop's tag ``(frame_id, stamp)``: what follows the last ``#`` of the frame id."""
    frame_id = tag[0] if isinstance(tag, tuple) else str(tag)
    if "#" not in frame_id:
        return None
    return frame_id.rsplit("#", 1)[1] or None


def reading_to_json(reading: Reading) -> str:
    """What the node publishes on ``plates`` for one crop."""
    frame_id, stamp = reading.tag if isinstance(reading.tag, tuple) else (str(reading.tag), None)
    return json.dumps({**reading.result.to_dict(), "frame_id": frame_id, "stamp": stamp,
                       "track_id": track_of(reading.tag)})


def track_to_json(reading: TrackReading, tag: Any = None, closed: bool = False) -> str:
    """What the node publishes on ``plate_tracks`` for one update of a track."""
    frame_id, stamp = tag if isinstance(tag, tuple) else (None, None)
    return json.dumps({**reading.to_dict(), "closed": closed, "frame_id": frame_id, "stamp": stamp})


def _cross_check(value: Any) -> bool | None:
    choice = {"auto": None, "true": True, "false": False}
    if str(value).lower() not in choice:
        raise InputError(f"cross_check must be auto, true or false, not {value!r}")
    return choice[str(value).lower()]


def main(argv: list[str] | None = None) -> int:
    """Run the node until SIGINT or SIGTERM; 0 after a clean stop, 2 when it cannot start."""
    try:
        import rclpy
        from rclpy.duration import Duration
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
    except ImportError:
        print("lpr-edge: the ROS 2 node needs rclpy, sensor_msgs and std_msgs: pip install -e '.[ros]' (x86_64, "
              "Python 3.10-3.12) or source your ROS 2 setup (e.g. /opt/ros/humble/setup.bash)", file=sys.stderr)
        return 2
    from ..runtime.recognizer import Recognizer

    stop = threading.Event()

    class LprNode(Node):
        def __init__(self):
            super().__init__("lpr_edge")
            p = {n: self.declare_parameter(n, v).value for n, v in PARAMETERS.items()}
            self.rec = Recognizer(p["model_path"] or None, p["backend"], max_batch=int(p["batch_size"]),
                                  cross_check=_cross_check(p["cross_check"]))
            self.get_logger().info(f"lpr-edge: {self.rec!r}")
            self.pub = self.create_publisher(String, "plates", 10)
            self.track_pub = self.create_publisher(String, "plate_tracks", 10)
            self.tracks = PlateTracks(self.rec, settle_views=int(p["settle_views"]),
                                      settle_confidence=float(p["min_confidence"]), idle_s=float(p["track_idle_s"]))
            self.batcher = PlateBatcher(
                self.rec, lambda r: self.pub.publish(String(data=reading_to_json(r))),
                batch_size=int(p["batch_size"]), max_wait_s=p["max_wait_ms"] / 1000.0,
                min_confidence=float(p["min_confidence"]), on_error=lambda tag, exc: self.get_logger().warn(
                    f"{tag}: {exc}"), tracks=self.tracks, track_of=track_of,
                publish_track=lambda r, tag: self.track_pub.publish(String(data=track_to_json(r, tag))))
            self.received = 0
            self.create_subscription(Image, "plate_crops", self._on_image, 100)
            self.create_timer(max(0.005, p["max_wait_ms"] / 2000.0), self.batcher.poll)
            self.create_timer(0.5, self._expire)

        def _on_image(self, msg):
            self.received += 1
            tag = (msg.header.frame_id, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
            try:
                crop = image_msg_to_bgr(msg.height, msg.width, msg.encoding, msg.step, msg.data)
            except InputError as exc:
                self.get_logger().warn(f"{tag[0]}: {exc}")
                return
            self.batcher.submit(crop, tag)

        def _expire(self):
            for reading in self.tracks.expire():
                self.track_pub.publish(String(data=track_to_json(reading, closed=True)))

        def finish(self):
            """The crops still waiting read and published, every open track closed and published."""
            self.batcher.flush()
            for reading in self.tracks.close_all():
                self.track_pub.publish(String(data=track_to_json(reading, closed=True)))
            for pub in (self.pub, self.track_pub):  # delivered before the process goes
                if hasattr(pub, "wait_for_all_acked"):
                    pub.wait_for_all_acked(Duration(seconds=2.0))
                else:  # pragma: no cover - an rclpy older than Humble's
                    time.sleep(0.5)

    # rclpy's own handlers would shut the context down mid-spin (ExternalShutdownException, pending crops
    # lost): ours only ask the loop to stop, so the node finishes its work first.
    try:
        from rclpy.signals import SignalHandlerOptions

        rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    except (ImportError, TypeError):  # pragma: no cover - an rclpy without the option: ours replace its handlers
        rclpy.init(args=argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        node = LprNode()
    except (LprEdgeError, ValueError) as exc:
        print(f"lpr-edge: {exc}", file=sys.stderr)
        rclpy.shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
        # crops already delivered but not yet taken are read too: take them until none came for 0.2 s
        quiet = hard = time.monotonic()
        while time.monotonic() - quiet < 0.2 and time.monotonic() - hard < 5.0:
            before = node.received
            executor.spin_once(timeout_sec=0.05)
            if node.received != before:
                quiet = time.monotonic()
        node.finish()
    finally:
        node.rec.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
