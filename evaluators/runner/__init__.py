"""`ring eval`'s engine: score an OpenAI-compatible endpoint on math, science and code suites.

Modules: ``datasets`` (loaders, content hash), ``prompts`` (templates), ``chat_client`` (async
HTTP with retries), ``scoring`` (avg@k, pass@k, maj@k, the 95% CI), ``run`` (orchestration and
resume), ``synthetic`` (generated suite), ``lcb_dataset`` (LiveCodeBench loader), ``hub`` (suites
from the Hugging Face hub: name -> repo, files, revision; cached fetch), ``lm_eval_bridge``.
The command line on top is ``ring_serve/commands/eval.py``.
"""
