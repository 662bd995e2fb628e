"""lpr-edge info: versions, TensorRT/pycuda/CUDA status, Jetson details, and what to install."""
from __future__ import annotations

import json


def add_parser(sub, name):
    p = sub.add_parser(name, help="show the environment and what is missing", description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..bundled import BUNDLED, available
    from ..environment import advice, collect

    env = collect()
    env["bundled_models"] = {name: f"{path.name}: {BUNDLED[name][1]}" for name, path in available().items()}
    tips = advice(env)
    if args.json:
        print(json.dumps({**env, "advice": tips}, indent=2))
        return 0
    for key, value in env.items():
        if key == "bundled_models":
            value = "; ".join(f"{k} ({v})" for k, v in value.items())
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:>16}: {value if value is not None else 'not installed'}")
    for tip in tips:
        print(f"  - {tip}")
    return 0
