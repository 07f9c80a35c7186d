"""Request and response bodies of the reward service (pydantic, shown at /docs)."""
from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from evaluators.grading import GradeResult

MAX_TEXT = 1_000_000  # characters in one response; the body limit caps the whole request anyway

Reference = Union[str, float, int, dict[str, Any], list[Any]]


class GradeItem(BaseModel):
    """One response to grade against its reference answer."""

    model_config = ConfigDict(extra="forbid")

    response: str = Field(..., max_length=MAX_TEXT, description="The model's output text.")
    reference: Optional[Reference] = Field(..., description="Gold answer: a math expression, a GPQA letter, "
                                                            "or code tests (LCB-shaped dict or its JSON); "
                                                            "null costs this item only (score 0, error).")
    options: Optional[dict[str, Any]] = Field(None, description="Grader options; see GET /v1/verifiers.")
    id: Optional[str] = Field(None, max_length=256, description="Echoed back in the result.")


class GradeBatch(BaseModel):
    """Several items for one verifier, graded concurrently."""

    model_config = ConfigDict(extra="forbid")

    items: list[GradeItem] = Field(..., description="Items to grade; results keep this order.")
    options: Optional[dict[str, Any]] = Field(None, description="Defaults for every item's options.")
    timeout_s: Optional[float] = Field(None, gt=0, description="Deadline per item (seconds, capped "
                                                                "by the server's maximum).")


class MixedItem(GradeItem):
    """An item that names its verifier, or a verl-style data_source mapped to one."""

    verifier: Optional[str] = Field(None, max_length=64, description="math, gpqa or code.")
    data_source: Optional[str] = Field(None, max_length=256,
                                       description='Dataset name, e.g. "aime_2024", "lighteval/MATH-500", '
                                                   '"livecodebench"; used when verifier is not given.')


class MixedBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[MixedItem]
    timeout_s: Optional[float] = Field(None, gt=0)


class RewardResponse(BaseModel):
    results: list[GradeResult]
    elapsed_s: float


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward model call: queries are prompt + response text."""

    query: list[str] = Field(..., description="Prompt followed by the response, one per sample.")
    prompts: Optional[list[str]] = Field(None, description="The prompts, stripped from the queries.")
    labels: Optional[list[Optional[Reference]]] = Field(None, description="Reference answers, one per sample "
                                                                          "(a null one scores 0 with an error).")
    data_source: Optional[Union[str, list[str]]] = Field(None, description="Dataset name(s) choosing "
                                                                           "the verifier per sample.")


class OpenRLHFResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class VerifierInfo(BaseModel):
    name: str
    version: str
    options: dict[str, dict[str, Any]]


class VerifiersResponse(BaseModel):
    verifiers: list[VerifierInfo]
    data_source_examples: dict[str, str]


class Health(BaseModel):
    status: str
    queue_depth: int
    queue_size: int
    abandoned_threads: int
    verifiers: list[str]
