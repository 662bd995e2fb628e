"""lpr-edge serve: serve a model over HTTP/gRPC with Triton Inference Server (dynamic batching, metrics).

Clients use the same Recognizer API: Recognizer("grpc://HOST:8001/lpr"), or any verb's --model
grpc://HOST:8001/lpr. Stops cleanly on Ctrl-C or SIGTERM. Needs the serve extra: pip install 'lpr-edge[serve]'.
"""
from __future__ import annotations

import sys

from ..runtime.backends import BACKENDS


def add_parser(sub, name):
    p = sub.add_parser(name, help="serve a model with Triton Inference Server", description=__doc__)
    p.add_argument("--model", "-m", default=None, help="ONNX model, TensorRT engine or bundled name (default: us)")
    p.add_argument("--backend", choices=[b for b in BACKENDS if b != "triton"], default="auto")
    p.add_argument("--name", default="lpr", help="model name clients use in the URL (default lpr)")
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface, "
                        "which exposes the server, unauthenticated, to the network)")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002, help="Prometheus metrics (GET /metrics)")
    p.add_argument("--max-batch", type=int, default=64,
                   help="largest merged batch (Triton max_batch_size; default 64: a client's 32 crops and their 32 "
                        "padded views in one request)")
    p.add_argument("--max-queue-delay-us", type=int, default=100,
                   help="how long Triton waits to merge requests into a batch (microseconds)")
    p.add_argument("--instances", type=int, default=1, help="model instances running batches in parallel")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads per instance (0: cores/instances)")
    p.add_argument("--wire", choices=("uint8", "float32"), default="uint8",
                   help="what clients send: uint8 resized BGR crops (13.8 kB a plate, default) or the float32 "
                        "model input (55 kB, the contract of lpr-edge export triton)")
    p.add_argument("--log-file", default=None, help="Triton's own log (default: stdout)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..deploy.triton_server import ServeOptions, serve

    opts = ServeOptions(model=args.model, name=args.name, backend=args.backend, address=args.address,
                        http_port=args.http_port, grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                        max_batch=args.max_batch, max_queue_delay_us=args.max_queue_delay_us,
                        instances=args.instances, threads=args.threads, wire=args.wire, log_file=args.log_file)
    serve(opts, on_ready=_announce)
    print("lpr-edge serve: stopped", file=sys.stderr)
    return 0


def _announce(ep: dict) -> None:
    print(f"lpr-edge serve: {ep['name']} = {ep['model']} ({ep['backend']}, {ep['precision']}, {ep['instances']} "
          f"instance(s), batches up to {ep['max_batch']}, wire {ep['wire']})\n"
          f"  clients: Recognizer({ep['grpc']!r}) or Recognizer({ep['http']!r})\n"
          f"  ready:   {ep['ready']}\n  metrics: {ep['metrics']}\n  ready - Ctrl-C or SIGTERM stops",
          file=sys.stderr, flush=True)
