"""The main command: `python -m train --config configs/FILE.py[:ARG] --workdir DIR`.

`--dry-run` prints the study's stage DAG (what is done and pending) and, last, one
JSON line of counts; `--shard I/N` restricts it to a disjoint part of the DAG.

Until stages are trained here, a run does the foundation end to end:
tokenizer → model in transformers format → conversion to our Orbax directory
→ reload → cross-lingual sentence retrieval against English on the parallel
sample text. Every step is skipped when its output already exists in the workdir.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from eval.retrieval import embed_sentences, retrieval_accuracy
from train.plan import build_dag, print_plan
from train.stage import pretrained_root, tokenizer_path
from xlmr_flax import load_pretrained, load_tokenizer
from xlmr_flax.tokenizer import sample_text_files

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file")
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for every output of the run")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "print the stage plan and counts, run nothing")
_SHARD = flags.DEFINE_string("shard", "0/1", "I/N: run the I-th of N disjoint parts of the DAG")


def sample_sentences() -> dict[str, list[str]]:
    return {
        os.path.basename(path).removesuffix(".txt"): open(path, encoding="utf-8")
        .read()
        .splitlines()
        for path in sample_text_files()
    }


def run(config, workdir: str) -> dict:
    os.makedirs(workdir, exist_ok=True)
    tokenizer = load_tokenizer(tokenizer_path(config))
    model = load_pretrained(pretrained_root(config, workdir))
    print(f"model: {model.describe()}")

    a = config.alignment
    sentences = sample_sentences()
    kw = dict(layer=a.layer, pooling=a.pooling, max_length=a.max_length, batch_size=a.batch_size)
    reference = embed_sentences(model, sentences[a.reference_lang], **kw)
    rows = {}
    for lang, lines in sorted(sentences.items()):
        ids = tokenizer(lines, add_special_tokens=False)["input_ids"]
        tokens = sum(map(len, ids))
        rows[lang] = dict(
            sentences=len(lines),
            tokens_per_sentence=tokens / len(lines),
            unk_rate=sum(i == tokenizer.unk_token_id for s in ids for i in s) / tokens,
            retrieval_accuracy=retrieval_accuracy(embed_sentences(model, lines, **kw), reference),
        )
    print(f"{'lang':6}{'sentences':>10}{'tok/sent':>10}{'unk %':>8}{'acc→' + a.reference_lang:>10}")
    for lang, r in rows.items():
        print(
            f"{lang:6}{r['sentences']:>10}{r['tokens_per_sentence']:>10.1f}"
            f"{100 * r['unk_rate']:>8.2f}{r['retrieval_accuracy']:>10.1f}"
        )
    summary = {
        "model": model.describe(),
        "chance_accuracy": 100 / len(reference),
        "languages": rows,
    }
    source = config.init_checkpoint or f"a random {config.model} model"
    print(f"encoder: {source}; chance accuracy is {summary['chance_accuracy']:.1f} %")
    with open(os.path.join(workdir, "alignment.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    return summary


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # checkpoint libraries log every file at INFO
    config = _CONFIG.value
    try:
        index, count = (int(x) for x in _SHARD.value.split("/"))
        dag = build_dag(config)
        stages = dag.shard(index, count)
    except ValueError as err:  # ConfigError included: reported before anything runs
        raise app.UsageError(str(err)) from None
    if _DRY_RUN.value:
        print_plan(config, dag, _WORKDIR.value, stages)
        return
    run(config, _WORKDIR.value)


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    # absl spells flags with underscores; accept the documented `--dry-run` too.
    app.run(main, argv=[a.replace("--dry-run", "--dry_run", 1) for a in sys.argv])
