"""Request and response schemas, for the OpenAPI document at ``/docs``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ClassScore(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class", description="class name, as in model.json")
    index: int = Field(description="class index (the model's output unit)")
    probability: float


class Prediction(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class", description="the most probable class")
    probability: float
    top: list[ClassScore] = Field(description="the k most probable classes, most probable first")


class BatchPrediction(BaseModel):
    predictions: list[Prediction] = Field(description="one per input, in the order sent")


class FeatureAttribution(BaseModel):
    feature: str
    value: float = Field(description="the value sent")
    attribution: float = Field(description="how much this feature moved the explained class's probability")


class Explanation(Prediction):
    explained_class: str
    method: str
    input_png: str | None = Field(None, description="image runs: the input as the network saw it, a PNG data URL")
    saliency_png: str | None = Field(None, description="image runs: the saliency heat map over the input, a PNG data URL")
    saliency: list[list[float]] | None = Field(None, description="image runs: saliency per pixel (H x W), scaled to 0-1")
    baseline_probability: float | None = Field(None, description="tabular runs: the class's probability for the training mean")
    features: list[FeatureAttribution] | None = Field(
        None, description="tabular runs: every feature, strongest first; the attributions add up to probability - baseline_probability")


class Health(BaseModel):
    status: str
    model_version: str
    worker: int = Field(description="process id of the worker that answered (several with --workers)")


class Metadata(BaseModel):
    run: str
    model_version: str = Field(description="first 12 hex digits of the SHA-256 of model.safetensors")
    kind: str = Field(description="'image' or 'tabular'")
    classes: list[str]
    input_shape: list[int]
    preprocessing: dict[str, Any] = Field(description="the training pipeline's preprocessing, from model.json")
    model: dict[str, Any] | None = None
    dataset: str | None = None
    backend: str
    batching: dict[str, Any]
    limits: dict[str, Any]
    top_k: int
    test_accuracy: float | None = None


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong, in a few words")
    detail: Any = Field(None, description="specifics: the limit, the accepted values, the offending shape")


ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "malformed body: invalid JSON, corrupt or truncated image, bad multipart"},
    408: {"model": ErrorBody, "description": "the client sent the body too slowly"},
    413: {"model": ErrorBody, "description": "body, image or number of inputs over the limit"},
    415: {"model": ErrorBody, "description": "content type or image format not accepted (PNG and JPEG only)"},
    422: {"model": ErrorBody, "description": "well-formed but unusable: missing field, wrong shape, NaN, out of range"},
    431: {"model": ErrorBody, "description": "request headers too large"},
    503: {"model": ErrorBody, "description": "too many requests in flight; retry (Retry-After)"},
    504: {"model": ErrorBody, "description": "no answer within the request timeout"},
}


def request_body(batch: bool) -> dict:
    many = "one or more examples" if batch else "one example"
    files = ({"files": {"type": "array", "items": {"type": "string", "format": "binary"}}} if batch
             else {"file": {"type": "string", "format": "binary"}})
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": files},
                                "example": None},
        "application/json": {"schema": {
            "type": "object", "required": ["inputs"],
            "properties": {"inputs": {"type": "array", "items": {},
                                      "description": f"{many}: image pixels 0-255 as (C,H,W), (H,W) or flat; "
                                                     "or tabular rows of numbers"}}},
            "example": {"inputs": [[5.1, 3.5, 1.4, 0.2]]}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    }}}
