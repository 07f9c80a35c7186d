"""BailingMoe (Ring-lite / Ling-lite) model configuration.

Shipped inside model directories and referenced from ``config.json``'s ``auto_map`` because
neither transformers nor vLLM carries a config class for ``model_type: bailing_moe``.
"""
try:
    from transformers import PreTrainedConfig as _Base
except ImportError:  # transformers < 5
    from transformers import PretrainedConfig as _Base


class BailingMoeConfig(_Base):
    model_type = "bailing_moe"

    def __init__(
        self,
        vocab_size=126464,
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=4,
        head_dim=None,
        hidden_act="silu",
        use_qkv_bias=False,
        use_bias=False,
        rms_norm_eps=1e-6,
        norm_head=True,
        tie_word_embeddings=False,
        embedding_dropout=0.0,
        attention_dropout=0.0,
        output_dropout=0.0,
        initializer_range=0.006,
        max_position_embeddings=16384,
        rope_theta=600000.0,
        rope_scaling=None,
        rotary_dim=None,
        use_cache=True,
        use_rmsnorm=True,
        num_experts=64,
        num_shared_experts=2,
        num_experts_per_tok=6,
        norm_topk_prob=True,
        moe_intermediate_size=1408,
        first_k_dense_replace=0,
        output_router_logits=False,
        pad_token_id=None,
        bos_token_id=None,
        eos_token_id=None,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.hidden_act = hidden_act
        self.use_qkv_bias = use_qkv_bias
        self.use_bias = use_bias
        self.rms_norm_eps = rms_norm_eps
        self.norm_head = norm_head
        self.embedding_dropout = embedding_dropout
        self.attention_dropout = attention_dropout
        self.output_dropout = output_dropout
        self.initializer_range = initializer_range
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        self.rope_scaling = rope_scaling
        self.rotary_dim = rotary_dim
        self.use_cache = use_cache
        self.use_rmsnorm = use_rmsnorm
        self.num_experts = num_experts
        self.num_shared_experts = num_shared_experts
        self.num_experts_per_tok = num_experts_per_tok
        self.norm_topk_prob = norm_topk_prob
        self.moe_intermediate_size = moe_intermediate_size
        self.first_k_dense_replace = first_k_dense_replace
        self.output_router_logits = output_router_logits
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
