"""What a network is and how to run it: tensor specs, runtimes, labels, loading."""

from edgetm.model.load import load_model
from edgetm.model.model import Family, Model, ModelFormat, Task
from edgetm.model.spec import Layout, Quantization, TensorSpec

__all__ = ["Family", "Layout", "Model", "ModelFormat", "Quantization", "Task", "TensorSpec", "load_model"]
