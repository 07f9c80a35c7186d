"""Verifiers as RL reward endpoints over HTTP (``ring reward serve``).

Import ``create_app``/``RewardSettings`` from ``ring_serve.reward.app``; this package's own import
stays light (no FastAPI) for ``spawn``'s users.
"""
