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
    converted: str | None = Field(None, description="uploaded images only, when the image was not already in the model's "
                                                   "form: what was done to it (e.g. 'converted from RGB to one channel (L) "
                                                   "and resized from 640x480 to 28x28')")


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


class Estimate(BaseModel):
    """A regression run's answer: numbers in the target's own units."""

    value: float = Field(description="the predicted value of the (first) target, in its own units")
    values: dict[str, float] = Field(description="every target's predicted value by name")


class BatchEstimate(BaseModel):
    predictions: list[Estimate] = Field(description="one per input, in the order sent")


class EstimateExplanation(Estimate):
    explained_target: str
    method: str
    baseline_value: float = Field(description="the target's predicted value for the training mean row")
    features: list[FeatureAttribution] = Field(description="every feature, strongest first; the attributions (target units) add up to "
                                                           "value - baseline_value")


class Health(BaseModel):
    status: str
    model_version: str
    worker: int = Field(description="process id of the worker that answered (several with --workers)")


class Ready(BaseModel):
    status: str = Field(description="'ready', or 'draining' once the worker is shutting down (503)")
    model_version: str
    in_flight: int = Field(description="requests this worker is answering now")
    max_concurrency: int


class Metadata(BaseModel):
    run: str
    model_version: str = Field(description="first 12 hex digits of the SHA-256 of the file served (model_file)")
    kind: str = Field(description="'image' or 'tabular'")
    classes: list[str]
    input_shape: list[int]
    preprocessing: dict[str, Any] = Field(description="the training pipeline's preprocessing, from model.json")
    model: dict[str, Any] | None = None
    dataset: str | None = None
    backend: str
    model_file: str | None = Field(None, description="the model file served: model.safetensors, or an .onnx file of the run "
                                                     "(e.g. model-int8.onnx, the int8 model of nnforge compress)")
    batching: dict[str, Any]
    limits: dict[str, Any]
    top_k: int
    test_accuracy: float | None = None
    task: str = Field("classify", description="'classify', or 'regress': then 'classes' are the target names and answers are values")
    test_rmse: float | None = None


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


def example_input(service) -> list:
    """One valid example for the served model, from its own metadata: for an image model a (C, H, W)
    picture of a vertical stroke in the training images' colours; for a tabular model the training
    mean row (the values the model was standardised around)."""
    preprocessing = service.predictor.preprocessing
    encoder = preprocessing.encoder() if service.kind != "image" else None
    if encoder is not None:  # a row as {column: value}: the training medians and each column's first category (not "(missing)")
        from nnforge.data.tabular_encoding import MISSING_CATEGORY

        return {c["name"]: c["median"] if c["kind"] == "numeric" else next((v for v in c["categories"] if v != MISSING_CATEGORY), None)
                for c in encoder.columns}
    if service.kind != "image":
        return [round(float(m), 3) for m in preprocessing.mean]
    channels, height, width = service.input_shape
    light = getattr(preprocessing, "background", "dark") == "light"
    ground, ink = (255, 0) if light else (0, 255)
    rows = [[ink if abs(x - width // 2) <= max(1, width // 14) and height // 5 <= y < height - height // 5 else ground
             for x in range(width)] for y in range(height)]
    return [rows] * channels


def _array(items: dict, length: int) -> dict:
    return {"type": "array", "items": items, "minItems": length, "maxItems": length}


def example_schema(service) -> dict:
    """JSON Schema of one example for the served model, as the service accepts it: exactly what
    is valid, so that a schema-valid request is answered 200 (Schemathesis checks it)."""
    if service.kind != "image":
        encoder = service.predictor.preprocessing.encoder()
        if encoder is None:
            return _array({"type": "number"}, service.input_shape[0])
        from nnforge.data.tabular_encoding import VALUE_LIMIT

        row = _array({"type": "number", "minimum": -VALUE_LIMIT, "maximum": VALUE_LIMIT}, service.input_shape[0])
        return {"oneOf": [encoder.record_schema(), row]}
    channels, height, width = service.input_shape
    pixel = {"type": "number", "minimum": 0, "maximum": 255}
    image = _array(_array(_array(pixel, width), height), channels)
    shapes = [image, _array(pixel, channels * height * width)]
    if channels == 1:
        shapes.insert(1, _array(_array(pixel, width), height))
    return {"oneOf": shapes}


def request_body(batch: bool, service) -> dict:
    """The OpenAPI request body of the prediction endpoints, with the served model's shapes and an example of its own."""
    many = "one or more examples" if batch else "one example"
    image_file = {"type": "string", "format": "binary"}
    files = ({"files": {"type": "array", "items": image_file, "minItems": 1, "maxItems": service.limits.max_inputs}} if batch
             else {"file": image_file})
    field = "files" if batch else "file"
    example = example_input(service)
    one = example_schema(service)
    if service.kind == "image":
        shape = "x".join(map(str, service.input_shape))
        described = (f"{many}: pixels 0-255 (numbers, not booleans) as ({shape}) (C, H, W), (H, W) for one channel, or flat; "
                     "an upload may be any PNG/JPEG, converted as in training")
    elif service.predictor.preprocessing.encoder() is not None:
        names = service.predictor.preprocessing.encoder().raw_names
        described = (f"{many}: rows as objects {{column: value}} with every training column ({', '.join(names)}): numbers, "
                     f"text for a text column, or null for a missing value, encoded as in training; or rows of the "
                     f"{service.input_shape[0]} encoded numbers ({', '.join(service.predictor.preprocessing.feature_labels())})")
    else:
        described = f"{many}: rows of {service.input_shape[0]} numbers (features: {', '.join(service.predictor.preprocessing.feature_labels())})"
    several = {"type": "array", "items": one, "minItems": 1, "maxItems": service.limits.max_inputs if batch else 1}
    inputs = {"oneOf": [one, several]} if service.kind == "image" else several
    content = {
        "multipart/form-data": {"schema": {"type": "object", "required": [field], "properties": files},
                                "encoding": {field: {"contentType": "image/png, image/jpeg"}}},
        "application/json": {"schema": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,  # the server refuses other keys
            "properties": {"inputs": {**inputs, "description": described}}},
            "example": {"inputs": [example] if batch or service.kind != "image" else example}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    }
    if service.kind != "image":  # a table model refuses uploads (422): only JSON rows are documented
        content = {"application/json": content["application/json"]}
    return {"requestBody": {"required": True, "content": content}}
