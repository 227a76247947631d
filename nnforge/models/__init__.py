"""The PyTorch model zoo, by name: ``build_model(cfg, input_shape, num_classes)``."""

from nnforge.models.registry import MODELS, ModelInfo, build_model, check_model_config, model_info, register_model

__all__ = ["MODELS", "ModelInfo", "build_model", "check_model_config", "model_info", "register_model"]
