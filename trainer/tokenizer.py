"""A checkpoint's tokenizer with the ids the trainer needs (eos, pad)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TokenizerInfo:
    tok: object  # tokenizers.Tokenizer
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)


def load_tokenizer(model_dir: str | Path) -> TokenizerInfo:
    """The tokenizer of checkpoint ``model_dir``; ValueError if it is not a checkpoint directory."""
    from tokenizers import Tokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ValueError(f"{model_dir} is not a checkpoint directory (no config.json)")
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    cfg = json.loads((model_dir / "config.json").read_text())
    return TokenizerInfo(tok=tok, eos_id=int(cfg["eos_token_id"]), pad_id=int(cfg.get("pad_token_id") or 0))
