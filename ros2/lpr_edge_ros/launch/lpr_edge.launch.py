"""ros2 launch lpr_edge_ros lpr_edge.launch.py [params_file:=...]: the lpr_edge node with its parameter file."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    default = os.path.join(get_package_share_directory("lpr_edge_ros"), "config", "lpr_edge.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default, description="the node's parameter file"),
        Node(package="lpr_edge_ros", executable="lpr_edge_node", name="lpr_edge", output="screen",
             parameters=[LaunchConfiguration("params_file")]),
    ])
