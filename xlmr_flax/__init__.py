"""xlmr_flax: XLM-R in JAX/Flax for studying intermediate-task order in cross-lingual transfer."""

from xlmr_flax.config import XLMRConfig, get_model_config
from xlmr_flax.errors import CheckpointError
from xlmr_flax.heads import HEADS, MixtureModel, TaskModel
from xlmr_flax.model import XLMREncoder
from xlmr_flax.pretrained import PretrainedModel, export_hf, load_pretrained
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

__all__ = [
    "HEADS",
    "CheckpointError",
    "MixtureModel",
    "PretrainedModel",
    "TaskModel",
    "XLMRConfig",
    "XLMREncoder",
    "export_hf",
    "get_model_config",
    "load_pretrained",
    "load_tokenizer",
    "sample_tokenizer_path",
]
