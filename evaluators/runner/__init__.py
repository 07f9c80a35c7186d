"""`ring eval`: score an OpenAI-compatible endpoint on math, science and code suites.

Modules: ``datasets`` (loaders, content hash), ``prompts`` (templates), ``client`` (async
HTTP with retries), ``metrics`` (avg@k, pass@k, maj@k, CIs), ``run`` (orchestration and
resume), ``synthetic`` (generated suite), ``lcb`` (LiveCodeBench loader), ``lm_eval_bridge``.
"""
