"""Small building blocks whose parameters carry logical axis names.

Every parameter is float32 and annotated with logical axes (`vocab`, `embed`,
`heads`, `kv`, `mlp`, or None); `xlmr_flax.sharding` maps them to mesh axes.
Inputs are cast to the compute dtype at use, so bfloat16 compute keeps float32
master weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

Axes = tuple[str | None, ...]


def param(rngs: nnx.Rngs | None, shape: Sequence[int], axes: Axes, init: str, std: float = 0.02):
    """A float32 `nnx.Param` initialised as `normal`, `zeros` or `ones`."""
    assert len(shape) == len(axes), (shape, axes)
    if init == "normal":
        value = std * jax.random.normal(rngs.params(), tuple(shape), jnp.float32)
    elif init == "zeros":
        value = jnp.zeros(tuple(shape), jnp.float32)
    else:
        value = jnp.ones(tuple(shape), jnp.float32)
    # Sharding is applied later from these names, not eagerly at creation.
    return nnx.Param(value, out_sharding=axes, eager_sharding=False)


class Dense(nnx.Module):
    """y = x · kernel + bias, contracting the last `len(in_shape)` input axes."""

    def __init__(
        self,
        in_shape: Sequence[int],
        out_shape: Sequence[int],
        axes: Axes,
        *,
        rngs: nnx.Rngs,
        std: float = 0.02,
        dtype: str = "float32",
    ):
        self.kernel = param(rngs, (*in_shape, *out_shape), axes, "normal", std)
        self.bias = param(rngs, tuple(out_shape), axes[len(in_shape) :], "zeros")
        self.num_in = len(in_shape)
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.kernel[...].astype(self.dtype)
        y = jnp.tensordot(x.astype(self.dtype), kernel, axes=self.num_in)
        return y + self.bias[...].astype(self.dtype)


class LayerNorm(nnx.Module):
    """LayerNorm computed in float32 for stability, returned in the compute dtype."""

    def __init__(self, size: int, eps: float, dtype: str = "float32"):
        self.scale = param(None, (size,), ("embed",), "ones")
        self.bias = param(None, (size,), ("embed",), "zeros")
        self.eps = eps
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32)
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        y = (x - mean) * jax.lax.rsqrt(var + self.eps) * self.scale[...] + self.bias[...]
        return y.astype(self.dtype)


class Embed(nnx.Module):
    def __init__(self, num: int, size: int, axes: Axes, *, rngs: nnx.Rngs, std: float = 0.02):
        self.embedding = param(rngs, (num, size), axes, "normal", std)

    def __call__(self, ids: jax.Array) -> jax.Array:
        return jnp.take(self.embedding[...], ids, axis=0)


def dropout(x: jax.Array, rate: float, rng: jax.Array | None) -> jax.Array:
    """Inverted dropout; the identity when `rng` is None (evaluation)."""
    if rng is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(rng, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0).astype(x.dtype)


def sub_rng(rng: jax.Array | None, index: int) -> jax.Array | None:
    """A distinct dropout key per call site, derived from one key."""
    return None if rng is None else jax.random.fold_in(rng, index)


def gelu(x: jax.Array) -> jax.Array:
    # XLM-R uses the exact (erf) GELU, not the tanh approximation.
    return jax.nn.gelu(x, approximate=False)


def attention_scale(head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim)
