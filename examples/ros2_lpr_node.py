"""ROS 2 (rclpy) node: plate crops in (sensor_msgs/Image), plate text and confidence out.

    ros2 run ... or: python examples/ros2_lpr_node.py --ros-args -p model_path:=engines/x.engine

Parameters: ``model_path`` (default: bundled model), ``backend`` (auto/onnxruntime/tensorrt),
``batch_size`` (8), ``max_wait_ms`` (50), ``min_confidence`` (0.741: 99 % precision for the bundled US
model on its validation crops; choose yours with ``lpr-edge eval`` on your cameras' crops),
``cross_check`` (auto: the Recognizer's default, a second padded reading only for models whose
confidence is the character product; true / false to force it).
Subscribes to ``plate_crops`` (sensor_msgs/Image, bgr8/rgb8/mono8/bgra8) and publishes ``plates``
(std_msgs/String with JSON: text, confidence, char_confidences, frame_id, stamp). rclpy is imported
only in ``main()``; the message conversion and batching are plain functions tested without ROS
(tests/runtime/test_batcher.py).
"""
from __future__ import annotations

import json
import sys

import numpy as np

from lpr_edge.batcher import PlateBatcher, Reading
from lpr_edge.errors import InputError

ENCODINGS = {"bgr8": (3, False), "rgb8": (3, True), "mono8": (1, False), "bgra8": (4, False), "rgba8": (4, True)}


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


def reading_to_json(reading: Reading) -> str:
    """What the node publishes for one reading."""
    frame_id, stamp = reading.tag if isinstance(reading.tag, tuple) else (str(reading.tag), None)
    return json.dumps({**reading.result.to_dict(), "frame_id": frame_id, "stamp": stamp})


# The node's parameters and their defaults. min_confidence: 99 % precision for the bundled US model on its
# validation crops (docs/guides/loose-crops-and-confidence.md); choose yours with lpr-edge eval.
PARAMETERS = {"model_path": "", "backend": "auto", "batch_size": 8, "max_wait_ms": 50, "min_confidence": 0.741,
              "cross_check": "auto"}


def main(argv=None) -> int:  # pragma: no cover - needs a ROS 2 installation
    try:
        import rclpy
        from rclpy.node import Node
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
    except ImportError:
        print("this example needs ROS 2 (rclpy, sensor_msgs, std_msgs); source your ROS 2 setup first",
              file=sys.stderr)
        return 2
    from lpr_edge import Recognizer

    class LprNode(Node):
        def __init__(self):
            super().__init__("lpr_edge")
            p = {n: self.declare_parameter(n, v).value for n, v in PARAMETERS.items()}
            check = {"auto": None, "true": True, "false": False}.get(str(p["cross_check"]).lower())
            if check is None and str(p["cross_check"]).lower() != "auto":
                self.get_logger().error(f"cross_check must be auto, true or false, not {p['cross_check']!r}")
                raise SystemExit(2)
            self.rec = Recognizer(p["model_path"] or None, p["backend"], max_batch=int(p["batch_size"]),
                                  cross_check=check)
            self.get_logger().info(f"lpr-edge: {self.rec!r}")
            self.pub = self.create_publisher(String, "plates", 10)
            self.batcher = PlateBatcher(self.rec, self._publish, batch_size=int(p["batch_size"]),
                                        max_wait_s=p["max_wait_ms"] / 1000.0, min_confidence=float(p["min_confidence"]),
                                        on_error=lambda tag, exc: self.get_logger().warn(f"{tag}: {exc}"))
            self.create_subscription(Image, "plate_crops", self._on_image, 10)
            self.create_timer(max(0.005, p["max_wait_ms"] / 2000.0), self.batcher.poll)

        def _on_image(self, msg):
            tag = (msg.header.frame_id, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
            try:
                crop = image_msg_to_bgr(msg.height, msg.width, msg.encoding, msg.step, msg.data)
            except InputError as exc:
                self.get_logger().warn(str(exc))
                return
            self.batcher.submit(crop, tag)

        def _publish(self, reading):
            self.pub.publish(String(data=reading_to_json(reading)))

    rclpy.init(args=argv)
    node = LprNode()
    try:
        rclpy.spin(node)
    finally:
        node.batcher.flush()
        node.rec.close()
        node.destroy_node()
        rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
