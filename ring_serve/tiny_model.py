"""`ring model tiny`: a few-MB BailingMoe checkpoint in Ring-lite's own format, built offline.

Everything is derived from the seed: the tokenizer is a byte-level BPE trained on text generated
here, the weights are drawn from a seeded numpy generator. Parameter names are those of the real
Ring-lite checkpoints so one loader (vLLM's or ours in ``trainer.modeling``) serves both.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]  # plain added tokens: they must survive decoding

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Dimensions of the tiny model; head_dim 64 because vLLM's CPU attention rejects 16."""

    vocab_size: int = 1024
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    head_dim: int = 64
    intermediate_size: int = 256
    moe_intermediate_size: int = 64
    num_experts: int = 8
    num_experts_per_tok: int = 2
    num_shared_experts: int = 1
    max_position_embeddings: int = 2048
    rope_theta: float = 600000.0
    rms_norm_eps: float = 1e-6


def _corpus(seed: int, n: int = 4000) -> list[str]:
    """Text in the shapes the tiny model will see: chat turns, arithmetic, reasoning, code."""
    rng = random.Random(seed)
    words = ("the answer is so we add then multiply first compute result check final value "
             "number sum product difference let think step because therefore return print def "
             "for in range if else while and or not list input output solve problem question").split()
    ops = ["+", "-", "*"]
    lines = []
    for _ in range(n):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice(ops)
        value = eval(f"{a}{op}{b}")  # noqa: S307 - our own generated integers
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        lines.append(
            f"<|im_start|>user\nWhat is {a} {op} {b}?<|im_end|>\n<|im_start|>assistant\n"
            f"<think>\n{sentence}. {a} {op} {b} = {value}.\n</think>\n"
            f"The answer is $\\boxed{{{value}}}$.<|im_end|>"
        )
        lines.append(f"def f(x):\n    return x {op} {b}\n\nprint(f({a}))  # {sentence}")
    return lines


def train_tokenizer(seed: int, vocab_size: int):
    """Byte-level BPE with single-digit pre-splitting (numbers stay learnable for arithmetic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers, AddedToken

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(THINK_TOKENS),
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    return tok


def init_weights(spec: TinySpec, vocab: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded N(0, 0.02) weights named as in Ring-lite's safetensors; norms start at one."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    h, hd = spec.hidden_size, spec.head_dim
    qkv_out = (spec.num_attention_heads + 2 * spec.num_key_value_heads) * hd
    tensors = {"model.word_embeddings.weight": w(vocab, h)}
    for i in range(spec.num_hidden_layers):
        p = f"model.layers.{i}"
        tensors[f"{p}.input_layernorm.weight"] = np.ones(h, np.float32)
        tensors[f"{p}.post_attention_layernorm.weight"] = np.ones(h, np.float32)
        tensors[f"{p}.attention.query_key_value.weight"] = w(qkv_out, h)
        tensors[f"{p}.attention.dense.weight"] = w(h, spec.num_attention_heads * hd)
        tensors[f"{p}.mlp.gate.weight"] = w(spec.num_experts, h)
        for e in range(spec.num_experts):
            _mlp(tensors, f"{p}.mlp.experts.{e}", h, spec.moe_intermediate_size, w)
        _mlp(tensors, f"{p}.mlp.shared_experts", h,
             spec.moe_intermediate_size * spec.num_shared_experts, w)
    tensors["model.norm.weight"] = np.ones(h, np.float32)
    tensors["lm_head.weight"] = w(vocab, h)
    return tensors


def _mlp(tensors: dict, prefix: str, h: int, inter: int, w) -> None:
    tensors[f"{prefix}.gate_proj.weight"] = w(inter, h)
    tensors[f"{prefix}.up_proj.weight"] = w(inter, h)
    tensors[f"{prefix}.down_proj.weight"] = w(h, inter)


def scripted_weights(spec: TinySpec, tok, script: str) -> dict[str, np.ndarray]:
    """Weights of a model that always answers ``script`` after a chat prompt, whatever it is asked.

    A test fixture with known output (reasoning split, graders end to end): every layer adds
    zero, so the next token depends only on the current one, and the LM head maps each script
    token to its successor with a margin that sampling at temperature 1 cannot overturn.
    """
    ids = tok.encode(script).ids + [tok.token_to_id("<|im_end|>")]
    chain = [tok.encode("\n").ids[-1]] + ids  # a chat prompt ends with "assistant\n"
    if len(set(chain[:-1])) != len(chain) - 1 or len(chain) > spec.hidden_size:
        raise ValueError("script tokens must be distinct and fewer than hidden_size")
    tensors = {k: np.zeros_like(v) for k, v in init_weights(spec, tok.get_vocab_size(), 0).items()}
    emb, head = tensors["model.word_embeddings.weight"], tensors["lm_head.weight"]
    for slot, (cur, nxt) in enumerate(zip(chain, chain[1:])):
        emb[cur, slot] = 1.0
        head[nxt, slot] = 1.0
    for k in tensors:
        if k.endswith("layernorm.weight"):
            tensors[k][:] = 1.0
    tensors["model.norm.weight"][:] = 10.0  # logit margin ~ 10 * sqrt(hidden) = 113
    return tensors


def hf_config(spec: TinySpec, vocab: int, token_ids: dict[str, int]) -> dict:
    return {
        "architectures": ["BailingMoeForCausalLM"],
        "model_type": "bailing_moe",
        "auto_map": {"AutoConfig": "configuration_bailing_moe.BailingMoeConfig"},
        "vocab_size": vocab,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "head_dim": spec.head_dim,
        "hidden_act": "silu",
        "use_qkv_bias": False,
        "use_bias": False,
        "use_rmsnorm": True,
        "rms_norm_eps": spec.rms_norm_eps,
        "norm_head": True,
        "tie_word_embeddings": False,
        "embedding_dropout": 0.0,
        "attention_dropout": 0.0,
        "output_dropout": 0.0,
        "max_position_embeddings": spec.max_position_embeddings,
        "rope_theta": spec.rope_theta,
        "rope_scaling": None,
        "num_experts": spec.num_experts,
        "num_shared_experts": spec.num_shared_experts,
        "num_experts_per_tok": spec.num_experts_per_tok,
        "norm_topk_prob": True,
        "moe_intermediate_size": spec.moe_intermediate_size,
        "first_k_dense_replace": 0,
        "output_router_logits": False,
        "initializer_range": 0.02,
        "torch_dtype": "float32",
        "bos_token_id": token_ids["<|endoftext|>"],
        "eos_token_id": token_ids["<|im_end|>"],
        "pad_token_id": token_ids["<|endoftext|>"],
        "ring_tiny": {"spec": asdict(spec)},
    }


def build_tiny_model(out: str | Path, seed: int = 0, spec: TinySpec | None = None,
                     script: str | None = None) -> Path:
    """Write config, config class, tokenizer and weights to ``out``; same seed, same bytes.

    ``script``: build the fixed-answer test model of :func:`scripted_weights` instead.
    """
    spec = spec or TinySpec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(seed, spec.vocab_size)
    vocab = tok.get_vocab_size()
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS + THINK_TOKENS}
    tok.save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "model_max_length": spec.max_position_embeddings,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
    })
    _write_json(out / "special_tokens_map.json", {
        "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    _write_json(out / "config.json", hf_config(spec, vocab, ids))
    _write_json(out / "generation_config.json", {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
    })
    src = Path(__file__).with_name("modelfiles") / "configuration_bailing_moe.py"
    shutil.copyfile(src, out / "configuration_bailing_moe.py")
    weights = scripted_weights(spec, tok, script) if script else init_weights(spec, vocab, seed)
    save_file(weights, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    return out


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def ensure_tiny_model(seed: int = 0) -> Path:
    """The default model: built into RING_HOME on first use (about a second, fully offline)."""
    from ring_core.paths import tiny_model_dir

    path = tiny_model_dir()
    if not (path / "model.safetensors").exists():
        build_tiny_model(path, seed=seed)
    return path
