"""The names of the metrics the trainer logs per step (results DB, ``run_rl``'s history).

One constant per metric, used where ``trainer.rl`` and ``trainer.sft`` build their metrics and by
the dashboard's training page (``DASHBOARD_ORDER``). Plain strings only: the dashboard imports
this module, so it must not pull in torch.
"""
from __future__ import annotations

# RL (trainer.rl), one value per step
REWARD_MEAN = "reward_mean"
ACCURACY = "accuracy"  # the same binary verifier reward, read as accuracy
ENTROPY = "entropy"
KL = "kl"
GRAD_NORM = "grad_norm"
LOSS = "loss"
CLIP_FRAC = "clip_frac"
RESPONSE_LEN_MEAN = "response_len_mean"
RESPONSE_LEN_MAX = "response_len_max"
TOKENS_IN_STEP = "tokens_in_step"  # response tokens trained on
FORWARD_TOKENS = "forward_tokens"  # tokens through the update's forward passes
RESPONSES_IN_STEP = "responses_in_step"
DEFERRED = "deferred"
STEP_TIME_S = "step_time_s"
ROLLOUT_TIME_S = "rollout_time_s"
REWARD_TIME_S = "reward_time_s"
UPDATE_TIME_S = "update_time_s"
TOKENS_PER_S = "tokens_per_s"
WEIGHT_SYNC_S = "weight_sync_s"
UPDATED = "updated"  # 0 when the step had no policy signal and skipped the optimiser
SAMPLER_LOGP_GAP = "sampler_logp_gap"  # only when the sampler reports log-probs

# RL with --async (trainer.async_rollouts): AReaL's staleness, interruptions and busy fractions
STALENESS_MEAN = "staleness_mean"  # trainer version minus the version that sampled a token, over trained tokens
STALENESS_MAX = "staleness_max"
INTERRUPTED = "interrupted_requests"  # generation requests cut by a weight update (then resubmitted)
ROLLOUT_BUSY = "rollout_busy_frac"  # share of the step's wall time with a request in flight
TRAIN_BUSY = "train_busy_frac"  # share of the step's wall time the trainer computed (not waiting for rollouts)
ROLLOUT_WAIT_S = "rollout_wait_s"  # the trainer's wait for enough ready groups

# SFT (trainer.sft): every step, and the validation numbers at checkpoints
SFT_LOSS = "sft_loss"
VAL_LOSS = "val_loss"
VAL_ACC = "val_acc"
# ENTROPY, GRAD_NORM and STEP_TIME_S as above

RL_METRICS = (REWARD_MEAN, ACCURACY, ENTROPY, KL, GRAD_NORM, LOSS, CLIP_FRAC, RESPONSE_LEN_MEAN, RESPONSE_LEN_MAX,
              TOKENS_IN_STEP, FORWARD_TOKENS, RESPONSES_IN_STEP, DEFERRED, STEP_TIME_S, ROLLOUT_TIME_S,
              REWARD_TIME_S, UPDATE_TIME_S, TOKENS_PER_S, WEIGHT_SYNC_S, UPDATED, SAMPLER_LOGP_GAP)
ASYNC_METRICS = (STALENESS_MEAN, STALENESS_MAX, INTERRUPTED, ROLLOUT_BUSY, TRAIN_BUSY, ROLLOUT_WAIT_S)
SFT_METRICS = (SFT_LOSS, GRAD_NORM, STEP_TIME_S, ENTROPY, VAL_LOSS, VAL_ACC)

# the training page shows these first, in this order (the rest follow alphabetically)
DASHBOARD_ORDER = (REWARD_MEAN, ACCURACY, VAL_ACC, ENTROPY, KL, SFT_LOSS, GRAD_NORM, RESPONSE_LEN_MEAN,
                   TOKENS_IN_STEP, STEP_TIME_S, TOKENS_PER_S)
