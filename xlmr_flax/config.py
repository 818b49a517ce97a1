"""Model configuration: XLM-R sizes by name (the one model table, NAMED_SIZES, from which
the study configs take the sizes they accept, each size's alignment layer and its
defaults), and the mapping to transformers' config."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

# XTREME's alignment layer (scripts/run_tatoeba.sh on XLM-R Large): hidden state 14 of
# Large's 24 layers (0 = the embeddings).
ALIGNMENT_REFERENCE = dict(layer=14, num_layers=24)


def alignment_layer(num_layers: int) -> int:
    """XTREME's alignment layer scaled to an encoder of `num_layers` layers: the first
    hidden state at or above its relative depth 14/24 (Large 14, Base 7, a 6-layer
    model 4, a 2-layer model its last layer; never the embeddings)."""
    if num_layers < 1:
        raise ValueError(f"num_layers={num_layers}: expected at least 1")
    reference = ALIGNMENT_REFERENCE
    return -(-reference["layer"] * num_layers // reference["num_layers"])  # rounded up


@dataclasses.dataclass(frozen=True)
class NamedSize:
    """One XLM-R size: its shape, where its released weights are, and whether it is
    the local CPU size (configs/base.py's `tiny` branch: the bundled tokenizer and
    sample data, emulated devices, short stages)."""

    shape: dict[str, int]
    checkpoint: str = ""  # transformers hub name of the released weights; empty: random only
    local: bool = False

    @property
    def num_layers(self) -> int:
        return self.shape["num_layers"]

    @property
    def eval_layer(self) -> int:
        """`config.eval.layer` of this size: the encoder layer whose mean-pooled output
        aligns sentences across languages (Tatoeba-style retrieval), `alignment_layer`
        of its depth; -1 (the last layer) where that is the last."""
        layer = alignment_layer(self.num_layers)
        return -1 if layer == self.num_layers else layer


# The one model table. Shapes from the XLM-R paper / the released checkpoints. `small`
# is a benchmark size (random weights); `tiny` matches the bundled sample tokenizer for
# CPU runs.
NAMED_SIZES: dict[str, NamedSize] = {
    "large": NamedSize(
        dict(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096),
        checkpoint="FacebookAI/xlm-roberta-large",
    ),
    "base": NamedSize(
        dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072),
        checkpoint="FacebookAI/xlm-roberta-base",
    ),
    "small": NamedSize(dict(num_layers=6, hidden_size=512, num_heads=8, intermediate_size=2048)),
    "tiny": NamedSize(
        dict(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=128, vocab_size=4002),
        local=True,
    ),
}

COMPUTE_DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class XLMRConfig:
    """Hyperparameters of the XLM-R encoder. Defaults are XLM-R Base's."""

    vocab_size: int = 250002
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 514
    type_vocab_size: int = 1
    layer_norm_eps: float = 1e-5
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    pad_token_id: int = 1
    initializer_range: float = 0.02
    # Compute dtype; parameters are always stored in float32.
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}"
            )
        if self.dtype not in COMPUTE_DTYPES:
            raise ValueError(f"dtype={self.dtype!r}: expected one of {COMPUTE_DTYPES}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def replace(self, **changes: Any) -> XLMRConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> XLMRConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown model config fields {unknown}; expected some of {sorted(known)}"
            )
        return cls(**values)

    def to_hf_dict(self) -> dict[str, Any]:
        """Keyword arguments for `transformers.XLMRobertaConfig`."""
        return dict(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            layer_norm_eps=self.layer_norm_eps,
            hidden_dropout_prob=self.hidden_dropout,
            attention_probs_dropout_prob=self.attention_dropout,
            pad_token_id=self.pad_token_id,
            initializer_range=self.initializer_range,
            hidden_act="gelu",
            model_type="xlm-roberta",
        )

    @classmethod
    def from_hf_dict(cls, hf: dict[str, Any], source: str = "config.json") -> XLMRConfig:
        """Reads a transformers `config.json` dictionary."""
        act = hf.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"{source}: hidden_act={act!r}, only 'gelu' (XLM-R's) is supported")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{source}: only absolute position embeddings are supported")
        try:
            return cls(
                vocab_size=hf["vocab_size"],
                hidden_size=hf["hidden_size"],
                num_layers=hf["num_hidden_layers"],
                num_heads=hf["num_attention_heads"],
                intermediate_size=hf["intermediate_size"],
                max_position_embeddings=hf["max_position_embeddings"],
                type_vocab_size=hf.get("type_vocab_size", 1),
                layer_norm_eps=hf.get("layer_norm_eps", 1e-5),
                hidden_dropout=hf.get("hidden_dropout_prob", 0.1),
                attention_dropout=hf.get("attention_probs_dropout_prob", 0.1),
                pad_token_id=hf.get("pad_token_id", 1),
                initializer_range=hf.get("initializer_range", 0.02),
            )
        except KeyError as missing:
            raise ValueError(f"{source}: missing field {missing}") from None


def get_model_config(name: str, **overrides: Any) -> XLMRConfig:
    """Returns a named size (`base`, `large`, `small`, `tiny`) with `overrides` applied."""
    if name not in NAMED_SIZES:
        raise ValueError(f"unknown model config {name!r}; known: {sorted(NAMED_SIZES)}")
    return XLMRConfig.from_dict({**NAMED_SIZES[name].shape, **overrides})


def load_json(path: str) -> dict[str, Any]:
    """Reads a JSON object, naming the file in any error."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value
