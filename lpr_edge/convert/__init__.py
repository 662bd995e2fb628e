"""Converters that turn other projects' checkpoints into deployable ONNX with an lpr-edge spec."""
