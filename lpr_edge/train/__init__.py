"""Training the default LPRNet (needs the ``train`` extra: PyTorch)."""
