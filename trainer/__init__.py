"""Training: our torch BailingMoe (``trainer.modeling``), distillation SFT, checkpoint selection and C3PO RL."""
