"""Train-step throughput of the JAX model, optionally against a PyTorch train step.

    python -m bench.train_step --size small --batch 8 --seq-len 128 --compare-torch
    python -m bench.train_step --size large --batch 32 --seq-len 256 --dtype bfloat16

Both sides run XLM-R with a sequence-classification head, AdamW (eps 1e-8,
weight decay 0.01), global-norm clipping at 1.0 and dropout 0.1 on the same
batch size and length. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from train.loop import train_loop
from train.losses import get_loss
from train.optimizer import make_optimizer
from train.step import init_train_state, make_train_step
from xlmr_flax import TaskModel, XLMRConfig, get_model_config
from xlmr_flax.sharding import global_batch, make_mesh

# Dense bf16 peak FLOP/s per device, from the vendors' data sheets.
PEAK_FLOPS = {
    "H100": 989e12,  # SXM
    "H200": 989e12,
    "A100": 312e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
}


def peak_flops(device_kind: str, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    return next((v for k, v in PEAK_FLOPS.items() if k in device_kind), None)


def train_flops_per_token(c: XLMRConfig, seq_len: int) -> float:
    """6 × non-embedding parameters (forward + backward) plus attention's
    12 × layers × hidden × length (the PaLM paper's accounting)."""
    per_layer = 4 * c.hidden_size**2 + 2 * c.hidden_size * c.intermediate_size
    return 6 * c.num_layers * per_layer + 12 * c.num_layers * c.hidden_size * seq_len


def random_batch(c: XLMRConfig, batch: int, seq_len: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(0)
    return dict(
        input_ids=rng.randint(3, c.vocab_size, (batch, seq_len)).astype(np.int32),
        attention_mask=np.ones((batch, seq_len), np.int32),
        labels=rng.randint(0, 3, batch).astype(np.int32),
    )


def bench_jax(c: XLMRConfig, args) -> float:
    from flax import nnx

    mesh = make_mesh(args.mesh)
    model = TaskModel(c, "classification", rngs=nnx.Rngs(0), num_labels=3)
    optimizer, schedule = make_optimizer(1e-5, 10_000)
    graphdef, state = init_train_state(model, optimizer, mesh)
    step = make_train_step(graphdef, get_loss("classification"), optimizer, schedule, state, mesh)
    batch = global_batch(random_batch(c, args.batch, args.seq_len), mesh)
    # The stages' loop; metrics are fetched (a sync) once, after the last step.
    state = train_loop(step, state, [batch] * args.warmup, log_every=args.warmup)  # compiles
    start = time.perf_counter()
    train_loop(step, state, [batch] * args.steps, log_every=args.steps)
    return (time.perf_counter() - start) / args.steps


def bench_torch(c: XLMRConfig, args) -> float:
    import torch
    import transformers

    device = "cuda" if torch.cuda.is_available() else "cpu"
    hf = transformers.XLMRobertaConfig(**c.to_hf_dict(), num_labels=3)
    model = transformers.XLMRobertaForSequenceClassification(hf).to(device).train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-5,
        eps=1e-8,
    )
    batch = {
        k: torch.tensor(v).long().to(device)
        for k, v in random_batch(c, args.batch, args.seq_len).items()
    }
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=c.dtype == "bfloat16")

    def step():
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    for _ in range(args.warmup):
        step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    return (time.perf_counter() - start) / args.steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", default="small", help="named model size (base, large, small, tiny)"
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--mesh", default="-1,1,1", help="data,fsdp,tensor sizes (-1 = rest)")
    parser.add_argument("--peak-tflops", type=float, help="per-device peak, for MFU where unknown")
    parser.add_argument("--compare-torch", action="store_true")
    args = parser.parse_args()
    args.mesh = [int(s) for s in args.mesh.split(",")]

    c = get_model_config(args.size, dtype=args.dtype)
    tokens = args.batch * args.seq_len
    device = jax.devices()[0].device_kind
    jax_step = bench_jax(c, args)
    result = {
        "size": args.size, "batch": args.batch, "seq_len": args.seq_len, "dtype": args.dtype,
        "device": f"{len(jax.devices())} x {device}", "jax_step_s": jax_step,
        "jax_tokens_per_s": tokens / jax_step,
    }  # fmt: skip
    peak = peak_flops(device, args.peak_tflops)
    flops = train_flops_per_token(c, args.seq_len) * tokens / jax_step
    result["mfu"] = flops / (peak * len(jax.devices())) if peak else None
    print(f"jax:   {jax_step * 1e3:8.1f} ms/step  {tokens / jax_step:10.0f} tokens/s")
    if args.compare_torch:
        torch_step = bench_torch(c, args)
        result.update(torch_step_s=torch_step, torch_tokens_per_s=tokens / torch_step)
        print(f"torch: {torch_step * 1e3:8.1f} ms/step  {tokens / torch_step:10.0f} tokens/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
