"""The top layer: the `ring` CLI (``cli`` + ``commands/``), the vLLM launcher, the reward service, the demo."""
