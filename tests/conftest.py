"""Test set-up: CPU only, 8 emulated devices, and tiny models built here (no network)."""

import os

# Must happen before JAX is imported anywhere.
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = " ".join(
    [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=8",
        # A collective that hangs on emulated devices fails fast instead of waiting 40 s.
        "--xla_cpu_collective_call_terminate_timeout_seconds=6",
    ]
).strip()
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest

TINY_HF = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=40,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
)


@pytest.fixture
def hf_checkpoint(tmp_path):
    """Builds a random transformers model of class `cls`, saves it, returns (model, dir)."""
    import torch
    import transformers

    def build(cls_name: str, seed: int = 0, **overrides):
        torch.manual_seed(seed)
        config = transformers.XLMRobertaConfig(
            **{**TINY_HF, **overrides}, attn_implementation="eager"
        )
        model = getattr(transformers, cls_name)(config).eval()
        directory = tmp_path / f"{cls_name}-{seed}"
        model.save_pretrained(directory)
        return model, str(directory)

    return build
