"""Our PyTorch BailingMoe, shared by the serving parity tests and the trainer."""
from trainer.modeling.bailing_moe import BailingMoeForCausalLM, ModelOutput
from trainer.modeling.model_config import BailingConfig

__all__ = ["BailingMoeForCausalLM", "BailingConfig", "ModelOutput"]
