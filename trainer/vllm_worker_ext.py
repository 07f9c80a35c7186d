"""The worker-side half of the CPU weight sync: a vLLM worker extension that reloads weights.

A vLLM server started with ``--worker-extension-cls trainer.vllm_worker_ext.RingWeightLoader``
(and ``VLLM_SERVER_DEV_MODE=1`` for ``/collective_rpc``) gains one RPC, called over HTTP by
``trainer.weight_sync.ShmReloadSync``:

    POST /collective_rpc {"method": "ring_reload_weights", "kwargs": {"weights_path": DIR}}

``DIR`` holds a ``model.safetensors`` with checkpoint (Ring-lite / HF) names, exactly what
``BailingMoeForCausalLM.save_pretrained`` writes. vLLM's own ``reload_weights`` RPC is not enough
on the CPU build: its in-place reload re-runs the MoE layer's weight processing as a "weight
update", which skips the CPU kernel's prepacking, so the routed experts are left in checkpoint
order while the kernel reads them prepacked (measured: reloading the *unchanged* start weights
moved vLLM's log-probs by 0.19). This RPC reloads, puts back the buffers that are not in a
checkpoint (the rotary cos/sin cache), then prepacks the routed experts with the kernel's own
op. On builds whose MoE kernel does not prepack (GPU) that last step does nothing.
This module runs inside vLLM's worker process; it must stay import-light.
"""
from __future__ import annotations

import time
from pathlib import Path

EXTENSION = "trainer.vllm_worker_ext.RingWeightLoader"
RELOAD_METHOD = "ring_reload_weights"


class RingWeightLoader:
    """Mixed into vLLM's worker class (``self`` is the worker); every public name is an RPC."""

    def ring_reload_weights(self, weights_path: str) -> dict:
        """Load ``weights_path``/model.safetensors into the running model in place; a short report."""
        from trainer.modeling.bailing_moe import load_state_dict

        return reload_in_place(self, list(load_state_dict(Path(weights_path)).items()))


def reload_in_place(worker, items: list) -> dict:
    """Load checkpoint-named ``items`` into ``worker``'s running model; a short report. Also the
    in-process sampler's push (``trainer.rollout.VllmSampler``, through ``collective_rpc``)."""
    t0 = time.perf_counter()
    model = worker.model_runner.get_model()
    # the layerwise reload rebuilds modules from checkpoint tensors only; buffers are not in
    # a checkpoint (and never trained), so they go back as they were
    buffers = {name: buf.detach().clone() for name, buf in model.named_buffers()}
    worker.reload_weights(weights_iterator=items)
    restored = _restore_buffers(model, buffers)
    repacked = _prepack_cpu_experts(model)
    return {"tensors": len(items), "buffers_restored": restored, "experts_repacked": repacked,
            "seconds": time.perf_counter() - t0}


def _restore_buffers(model, saved: dict) -> int:
    restored = 0
    for name, buf in model.named_buffers():
        if name in saved and buf.shape == saved[name].shape:
            buf.data.copy_(saved[name])
            restored += 1
    return restored


def _cpu_expert_layers(model):
    """(layer, isa) of every routed-expert layer run by vLLM's prepacking CPU MoE kernel."""
    for module in model.modules():
        kernel = getattr(getattr(module, "quant_method", None), "moe_kernel", None)
        experts = getattr(kernel, "fused_experts", None)
        isa = getattr(experts, "isa", None)
        if isa is None or not hasattr(module, "w13_weight") or getattr(experts, "_use_zentorch", False):
            continue  # not the CPU kernel, or zentorch, which reads the unpacked layout
        cfg = experts.moe_config
        if experts._padded_intermediate_size(cfg) != cfg.intermediate_size_per_partition:
            # the kernel padded the experts at start-up; a reload does not re-pad them
            raise NotImplementedError(f"{type(experts).__name__} padded the MoE intermediate size; "
                                      "in-place reload of padded CPU experts is not supported")
        yield module, isa


def _prepack_cpu_experts(model) -> int:
    """Redo the start-up prepacking that vLLM's in-place reload skips; the number of layers."""
    from vllm._custom_ops import cpu_prepack_moe_weight

    layers = list(_cpu_expert_layers(model))
    for module, isa in layers:
        for param in (module.w13_weight, module.w2_weight):
            param.data.copy_(cpu_prepack_moe_weight(param.data.contiguous(), isa))
    return len(layers)
