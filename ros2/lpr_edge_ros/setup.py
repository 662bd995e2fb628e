"""The ROS 2 package around lpr-edge's node (lpr_edge.deploy.ros2_node): built with colcon in a workspace
whose Python has lpr-edge installed (pip install -e /path/to/lpr-edge)."""
from glob import glob

from setuptools import setup

setup(
    name="lpr_edge_ros",
    version="0.1.0",
    packages=["lpr_edge_ros"],
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/lpr_edge_ros"]),
        ("share/lpr_edge_ros", ["package.xml"]),
        ("share/lpr_edge_ros/launch", glob("launch/*.launch.py")),
        ("share/lpr_edge_ros/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    entry_points={"console_scripts": ["lpr_edge_node = lpr_edge_ros.node:main"]},
)
