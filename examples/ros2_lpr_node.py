"""ROS 2 (rclpy) node: plate crops in (sensor_msgs/Image), readings per crop and per track out.

    python examples/ros2_lpr_node.py --ros-args -p model_path:=engines/x.engine

The node is ``lpr_edge.deploy.ros2_node`` (topics, parameters, track ids and shutdown are described
there and in docs/guides/robots.md); this script starts it, as ``ros2 launch lpr_edge_ros
lpr_edge.launch.py`` does from the package in ros2/.
"""
from __future__ import annotations

import sys

from lpr_edge.deploy.ros2_node import PARAMETERS, image_msg_to_bgr, main, reading_to_json  # noqa: F401

if __name__ == "__main__":
    sys.exit(main(sys.argv))
