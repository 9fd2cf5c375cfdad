"""What a network is and how to run it: tensor specs, runtimes, labels, loading."""

from edgetm.model.load import load_model
from edgetm.model.model import Family, Model, ModelFormat, TaskKind
from edgetm.model.options import ModelOptions
from edgetm.model.spec import Layout, Quantization, TensorSpec

__all__ = ["Family", "Layout", "Model", "ModelFormat", "ModelOptions", "Quantization", "TaskKind", "TensorSpec",
           "load_model"]
