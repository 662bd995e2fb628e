"""Deployment beyond one process: a Triton server (``lpr-edge serve``), Triton model repositories and
DeepStream configs (``lpr-edge export triton|deepstream``)."""
