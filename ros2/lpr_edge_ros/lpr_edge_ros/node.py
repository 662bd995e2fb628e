"""``ros2 run lpr_edge_ros lpr_edge_node``: lpr-edge's node (lpr_edge.deploy.ros2_node)."""
import sys

from lpr_edge.deploy.ros2_node import main as run


def main() -> None:
    sys.exit(run(sys.argv))
