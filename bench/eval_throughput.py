"""Evaluation throughput of the predictor: length buckets against padding to the maximum.

    python -m bench.eval_throughput --size small --sentences 256 --batch 32
    python -m bench.eval_throughput --size small --buckets 32,64,128,256
    python -m bench.eval_throughput --size large --sentences 8192 --batch 256 --dtype bfloat16

Synthetic sentence pairs with XNLI-like token lengths (log-normal, mean about 40
tokens, median 34, a long tail cut at `--max-length` 256) go through a random
XLM-R with a classification head twice: in the predictor's default length buckets,
then every batch padded to the maximum length (one bucket). Each mode runs once to
compile its shapes, then `--repeats` timed passes. Predictions of both modes must
agree. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np
from flax import nnx

from eval.predict.predictor import PredictOptions, Predictor
from xlmr_flax import PretrainedModel, TaskModel, get_model_config
from xlmr_flax.sharding import make_mesh


def synthetic_features(
    count: int, vocab_size: int, max_length: int, mean: float, sigma: float, seed: int = 0
) -> list[dict]:
    """`<s> ... </s>` token sequences with log-normal lengths of the given mean."""
    rng = np.random.default_rng(seed)
    mu = np.log(mean) - sigma**2 / 2  # the log-normal's mean is exp(mu + sigma^2 / 2)
    lengths = np.clip(np.rint(rng.lognormal(mu, sigma, count)), 8, max_length).astype(int)
    return [
        dict(
            id=str(i),
            input_ids=np.concatenate([[0], rng.integers(4, vocab_size - 1, n - 2), [2]]).astype(
                np.int32
            ),
        )
        for i, n in enumerate(lengths)
    ]


def measure(predictor: Predictor, features: list[dict], options: PredictOptions, repeats: int):
    """Compilations, first (compiling) pass and timed pass seconds, padded tokens per
    pass and the logits of one bucketing mode."""
    width = predictor.model.head_kwargs["num_labels"]

    def one_pass() -> tuple[np.ndarray, int]:
        logits, padded = np.zeros((len(features), width), np.float32), 0
        batches = list(predictor.sequence_batches(features, options, options.max_length))
        for _, batch in batches:
            padded += int(batch["input_ids"].size)
        for indices, outputs in predictor.run("logits", batches):
            logits[indices] = outputs["logits"]
        return logits, padded

    compiled = predictor.compilations
    start = time.perf_counter()
    one_pass()  # compiles every shape this mode uses
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        logits, padded = one_pass()
    return dict(
        compilations=predictor.compilations - compiled,
        first_pass_s=first,
        pass_s=(time.perf_counter() - start) / repeats,
        padded_tokens=padded,
        logits=logits,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", default="small", help="named model size (base, large, small, tiny)"
    )
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="global rows per batch")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--mean-length", type=float, default=40.0)
    parser.add_argument("--sigma", type=float, default=0.55, help="log-normal shape")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument(
        "--buckets", help="comma-separated bucket lengths (default: the predictor's)"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--mesh", default="-1,1,1", help="data,fsdp,tensor sizes (-1 = rest)")
    args = parser.parse_args()

    config = get_model_config(args.size, dtype=args.dtype)
    module = TaskModel(config, "classification", rngs=nnx.Rngs(0), num_labels=3)
    model = PretrainedModel(
        config, nnx.to_pure_dict(nnx.state(module, nnx.Param)), "classification", {"num_labels": 3}
    )
    del module
    predictor = Predictor(model, make_mesh([int(s) for s in args.mesh.split(",")]))
    features = synthetic_features(
        args.sentences, config.vocab_size, args.max_length, args.mean_length, args.sigma
    )
    real_tokens = sum(len(f["input_ids"]) for f in features)
    modes = {
        "bucketed": PredictOptions(batch_size=args.batch, max_length=args.max_length),
        "padded": PredictOptions(
            batch_size=args.batch, max_length=args.max_length, bucket_lengths=()
        ),
    }
    if args.buckets:
        buckets = tuple(int(b) for b in args.buckets.split(","))
        modes["bucketed"] = dataclasses.replace(modes["bucketed"], bucket_lengths=buckets)
    results = {name: measure(predictor, features, o, args.repeats) for name, o in modes.items()}
    agree = np.array_equal(
        results["bucketed"]["logits"].argmax(1), results["padded"]["logits"].argmax(1)
    )
    max_diff = float(np.abs(results["bucketed"]["logits"] - results["padded"]["logits"]).max())

    lengths = [len(f["input_ids"]) for f in features]
    print(
        f"{args.sentences} sentences, tokens mean {np.mean(lengths):.1f}, median "
        f"{np.median(lengths):.0f}, max {max(lengths)}; {args.size} {args.dtype}, batch "
        f"{args.batch}, {len(jax.devices())} x {jax.devices()[0].device_kind}"
    )
    print(f"{'mode':10}{'buckets':>34}{'compiles':>10}{'sent/s':>10}{'tokens/s':>10}{'pad %':>8}")
    summary = {}
    for name, r in results.items():
        buckets = modes[name].buckets(args.max_length)
        padding = 100 * (1 - real_tokens / r["padded_tokens"])
        rate = args.sentences / r["pass_s"]
        print(
            f"{name:10}{','.join(map(str, buckets)):>34}{r['compilations']:>10}"
            f"{rate:>10.1f}{real_tokens / r['pass_s']:>10.0f}{padding:>8.1f}"
        )
        summary[name] = dict(
            buckets=list(buckets),
            compilations=r["compilations"],
            first_pass_s=r["first_pass_s"],
            pass_s=r["pass_s"],
            sentences_per_s=rate,
            real_tokens_per_s=real_tokens / r["pass_s"],
            padding_fraction=padding / 100,
        )
    speedup = results["padded"]["pass_s"] / results["bucketed"]["pass_s"]
    print(f"bucketing: {speedup:.2f}x; predictions agree: {agree} (max |Δlogit| {max_diff:.1e})")
    result = {
        "size": args.size, "dtype": args.dtype, "sentences": args.sentences,
        "batch": args.batch, "max_length": args.max_length,
        "mean_tokens": float(np.mean(lengths)),
        "device": f"{len(jax.devices())} x {jax.devices()[0].device_kind}",
        **{f"{name}_{k}": v for name, s in summary.items() for k, v in s.items()},
        "speedup": speedup, "predictions_agree": bool(agree), "max_logit_diff": max_diff,
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
