"""Which `pip install ring-lab[EXTRA]` brings a missing package (the base install is lean)."""
from __future__ import annotations

EXTRA_OF = {
    "sqlalchemy": "eval", "alembic": "eval", "openai": "eval",
    "huggingface_hub": "eval", "pyarrow": "eval",
    "fastapi": "reward", "uvicorn": "reward", "prometheus_client": "reward", "starlette": "reward",
    "streamlit": "dashboard", "altair": "dashboard", "pandas": "dashboard",
    "docker": "sandbox-docker",
    "torch": "train", "safetensors": "train", "tokenizers": "train", "transformers": "train",
    "vllm": "cpu", "ray": "ray",
}


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """The line to show for a package an extra provides, or None for any other missing module."""
    package = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(package)
    if extra is None:
        return None
    hint = "ring-lab[cpu] (or ring-lab[gpu] on a CUDA machine)" if extra == "cpu" else f"ring-lab[{extra}]"
    return f"this command needs {package!r}, which the base install leaves out: pip install '{hint}'"


def require(*packages: str) -> None:
    """Raise ModuleNotFoundError for the first package not installed (for commands that only run
    it in a child process, where the parent would otherwise never notice)."""
    from importlib.util import find_spec

    for package in packages:
        if find_spec(package) is None:
            raise ModuleNotFoundError(f"No module named {package!r}", name=package)
