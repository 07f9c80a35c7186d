"""`ring model tiny`: deterministic, offline, Ring-lite's architecture and parameter names."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open
from tokenizers import Tokenizer

from ring_serve.tiny_model import build_tiny_model

# parameter names of the released Ring-lite / Ling-lite safetensors
RING_LITE_NAMES = [
    r"model\.word_embeddings\.weight", r"model\.norm\.weight", r"lm_head\.weight",
    r"model\.layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight",
    r"model\.layers\.\d+\.attention\.(query_key_value|dense)\.weight",
    r"model\.layers\.\d+\.mlp\.gate\.weight",
    r"model\.layers\.\d+\.mlp\.(experts\.\d+|shared_experts)\.(gate_proj|up_proj|down_proj)\.weight",
]


def digest(path: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = (build_tiny_model(tmp_path / n, seed=s) for n, s in (("a", 0), ("b", 0), ("c", 1)))
    assert digest(a) == digest(b)
    assert digest(a)["model.safetensors"] != digest(c)["model.safetensors"]


def test_config_is_ring_lite_architecture(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["architectures"] == ["BailingMoeForCausalLM"] and cfg["model_type"] == "bailing_moe"
    assert cfg["auto_map"]["AutoConfig"] == "configuration_bailing_moe.BailingMoeConfig"
    assert (path / "configuration_bailing_moe.py").exists()
    assert cfg["num_experts"] > cfg["num_experts_per_tok"] >= 2 and cfg["num_shared_experts"] >= 1
    assert cfg["norm_head"] is True and cfg["head_dim"] >= 32
    size = sum(f.stat().st_size for f in path.iterdir())
    assert 1e5 < size < 20e6


def test_weight_names_are_ring_lite_names(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    with safe_open(str(path / "model.safetensors"), "np") as f:
        names = list(f.keys())
    unmatched = [n for n in names if not any(re.fullmatch(p, n) for p in RING_LITE_NAMES)]
    assert names and not unmatched


def test_tokenizer_has_chat_and_think_tokens(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    for t in ("<think>", "</think>", "<|im_start|>", "<|im_end|>"):
        assert tok.encode(t).ids == [tok.token_to_id(t)]
    text = "<think>\n12 + 30 = 42\n</think>\nThe answer is 42."
    assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text
    assert "<|im_start|>" in json.loads((path / "tokenizer_config.json").read_text())["chat_template"]


def test_transformers_loads_config_class_and_tokenizer(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    code = ("import sys; from transformers import AutoConfig, AutoTokenizer; p=sys.argv[1];"
            "c=AutoConfig.from_pretrained(p, trust_remote_code=True); t=AutoTokenizer.from_pretrained(p);"
            "print(type(c).__name__, c.num_experts, t.apply_chat_template([{'role':'user','content':'hi'}],"
            " tokenize=False, add_generation_prompt=True).endswith('assistant\\n'))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["BailingMoeConfig", "8", "True"]


def test_cli_writes_model(tmp_path):
    ring = Path(sys.executable).with_name("ring")
    out = subprocess.run([str(ring), "model", "tiny", "--out", str(tmp_path / "cli"), "--seed", "3"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "cli" / "model.safetensors").exists() and "seed 3" in out.stdout


def test_scripted_model_rejects_repeating_tokens(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        build_tiny_model(tmp_path / "s", script="1 1 1")
