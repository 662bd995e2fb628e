"""Faults a new user hit, each now failing loudly or not at all (issue: nothing lost, nothing silent)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from lpr_edge.bundled import bundled_path, resolve_model

from ..conftest import REPO


def test_a_folder_named_like_a_bundled_model_does_not_shadow_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "us").mkdir()  # e.g. a folder of US crops; it used to give "model file us does not exist"
    assert resolve_model("us") == bundled_path("us")
    (tmp_path / "br").write_bytes(b"")  # a file of that name still wins: nothing on disk is shadowed
    assert resolve_model("br") == Path("br")


def test_the_triton_container_command_mounts_an_absolute_path_and_gives_a_plan_the_gpu(tmp_path):
    from lpr_edge.cli.export import docker_command

    onnx = docker_command(tmp_path / "repo", gpu=False)
    assert f"-v {tmp_path / 'repo'}:/models" in onnx and "$PWD" not in onnx and "--gpus" not in onnx
    assert "docker run --rm --gpus all " in docker_command(Path("repo"), gpu=True)
    assert f"-v {Path('repo').resolve()}:/models" in docker_command(Path("repo"), gpu=True)


def test_serve_listens_on_this_machine_only_unless_told():
    from lpr_edge.cli import build_parser
    from lpr_edge.deploy.triton_server import ServeOptions

    assert ServeOptions(model="us").address == "127.0.0.1"
    assert build_parser().parse_args(["serve"]).address == "127.0.0.1"


def test_the_ros_node_drops_readings_below_the_99_percent_precision_threshold_by_default():
    spec = importlib.util.spec_from_file_location("ros2_lpr_node", REPO / "examples" / "ros2_lpr_node.py")
    node = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(node)
    guide = (REPO / "docs" / "guides" / "loose-crops-and-confidence.md").read_text()
    assert node.PARAMETERS["min_confidence"] == 0.741 and "T is 0.741" in guide  # it was 0.5


def test_an_unlabelled_folder_is_refused_not_scored_against_its_file_names(tmp_path, capsys):
    """IMG_0001.png ... used to become the label IMG and score 0 %."""
    import cv2
    import numpy as np

    from lpr_edge.cli import main

    for i in range(5):
        cv2.imwrite(str(tmp_path / f"IMG_{i:04d}.png"), np.zeros((24, 96, 3), np.uint8))
    assert main(["eval", "--data", str(tmp_path)]) == 2
    assert "file names are not plate labels (5 images, most named 'IMG'...)" in capsys.readouterr().err


def test_eval_says_when_a_bundled_model_reads_the_plates_it_trained_on(capsys):
    from lpr_edge.cli import main

    from ..conftest import US_DATA, need

    assert main(["eval", "--data", str(need(US_DATA)), "--json"]) == 0
    err = capsys.readouterr().err
    assert "the bundled us model trained on the training side" in err and "--split all flatters it" in err
    assert "label marked suspect" in err  # the 5 rows skipped, each named with its reason
    assert main(["eval", "--data", str(need(US_DATA)), "--split", "val", "--json"]) == 0
    assert "flatters" not in capsys.readouterr().err


def test_a_full_disk_anywhere_is_one_line_naming_the_file(monkeypatch, capsys):
    """Writes outside the atomic ones (a training log) used to end in "unexpected error: OSError: [Errno 28]"."""
    import errno
    import os

    from lpr_edge.cli import info, main

    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "runs/x/log.jsonl")

    monkeypatch.setattr(info, "run", full)
    assert main(["info"]) == 2
    assert capsys.readouterr().err.strip() == ("lpr-edge: error: cannot write runs/x/log.jsonl: No space left on "
                                               "device; free some space or choose another path")
