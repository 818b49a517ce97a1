"""The XLM-R tokenizer: by hub name or directory, or built from a sentencepiece model.

python -m xlmr_flax.tokenizer train --text a.txt b.txt --out DIR [--vocab-size N]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import resources

import transformers

SPM_FILE = "sentencepiece.bpe.model"  # the file name XLM-R's checkpoints use
XLMR_HUB_NAME = "FacebookAI/xlm-roberta-base"  # large shares this tokenizer
# One request this long decides whether the hub is reachable: without it, the hub
# client retries each of a tokenizer's nine files with backoff (4 min 26 s measured
# with no network before anything is planned).
HUB_PROBE_SECONDS = 5.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class TokenizerUnavailable(ValueError):
    """A hub tokenizer that is neither in the local cache nor reachable (offline)."""


def hub_offline() -> bool:
    """Whether the environment forbids hub requests (read now, not at import)."""
    import huggingface_hub

    values = (os.environ.get(v, "").strip().lower() for v in OFFLINE_VARIABLES)
    return huggingface_hub.is_offline_mode() or any(v in ("1", "on", "yes", "true") for v in values)


def hub_unreachable(timeout: float = HUB_PROBE_SECONDS) -> str | None:
    """One request to the hub's endpoint, no retries: None if any HTTP answer came,
    else why not (one line)."""
    from huggingface_hub import constants, get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as err:  # the HTTP client's connect, timeout and offline errors alike
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"{constants.ENDPOINT} not reachable within {timeout:g} s: {reason}"
    return None


def sample_tokenizer_path() -> str:
    """The small sentencepiece model trained on the bundled multilingual sample text."""
    return str(resources.files("xlmr_flax") / "assets" / "sample_tokenizer" / SPM_FILE)


def sample_text_files() -> list[str]:
    folder = resources.files("xlmr_flax") / "assets" / "sample_data" / "mlm"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith(".txt"))


def tokenizer_source(name_or_path: str) -> str:
    """Where a tokenizer is read from: our model directories (`python -m
    xlmr_flax.convert`) keep theirs in `tokenizer/`; anything else is its own source."""
    from xlmr_flax.checkpoint import MODEL_FILE  # lazily: checkpoint needs jax and orbax

    inner = os.path.join(name_or_path, "tokenizer")
    if os.path.isfile(os.path.join(name_or_path, MODEL_FILE)) and os.path.isdir(inner):
        return inner
    return name_or_path


def load_tokenizer(name_or_path: str = XLMR_HUB_NAME) -> transformers.PreTrainedTokenizerBase:
    """Loads from a sentencepiece `.model` file, a directory (also one of our model
    directories), or a hub name.

    transformers v5 builds a 5-token vocabulary when given only `vocab_file`;
    `from_pretrained` converts the sentencepiece model properly, and the result
    is checked to produce real ids. A hub name is read from the local cache first;
    otherwise it is downloaded if the hub answers within HUB_PROBE_SECONDS and
    offline mode is off, else TokenizerUnavailable says why, at once.
    """
    name_or_path = tokenizer_source(name_or_path)
    if os.path.isfile(name_or_path) and not name_or_path.endswith(".model"):
        raise ValueError(f"{name_or_path}: expected a sentencepiece .model file or a directory")
    try:
        if os.path.exists(name_or_path) or not is_hub_name(name_or_path):
            tokenizer = transformers.XLMRobertaTokenizer.from_pretrained(name_or_path)
        else:
            tokenizer = _from_hub(name_or_path)
    except TokenizerUnavailable:
        raise
    except (OSError, ValueError) as err:
        raise ValueError(f"{name_or_path}: cannot load an XLM-R tokenizer ({err})") from None
    _check_real_ids(tokenizer, name_or_path)
    return tokenizer


def cached_hub_dir(name: str) -> str | None:
    """The local snapshot of a hub tokenizer, None when not cached (transformers v5
    given an uncached name and `local_files_only` builds a 5-token tokenizer silently)."""
    import huggingface_hub

    try:
        directory = huggingface_hub.snapshot_download(
            name, allow_patterns=[SPM_FILE, "*.json"], local_files_only=True
        )
    except Exception:  # the hub client raises several types for "not cached"
        return None
    names = (SPM_FILE, "tokenizer.json")
    return directory if any(os.path.isfile(os.path.join(directory, n)) for n in names) else None


def is_hub_name(text: str) -> bool:
    """`owner/name` or `name` as the hub spells it; not a path or a model file."""
    return not text.startswith((".", "/", "~")) and not text.endswith(".model")


def _from_hub(name: str) -> transformers.PreTrainedTokenizerBase:
    directory = cached_hub_dir(name)
    if directory:
        return transformers.XLMRobertaTokenizer.from_pretrained(directory)
    if hub_offline():
        raise TokenizerUnavailable(
            f"tokenizer {name}: not in the local hub cache, and offline mode is on "
            f"({' or '.join(OFFLINE_VARIABLES)})"
        )
    unreachable = hub_unreachable()
    if unreachable:
        raise TokenizerUnavailable(
            f"tokenizer {name}: not in the local hub cache, and the model hub is not "
            f"reachable ({unreachable})"
        )
    return transformers.XLMRobertaTokenizer.from_pretrained(name)


def _check_real_ids(tokenizer, source: str) -> None:
    probe = tokenizer("a b c", add_special_tokens=False)["input_ids"]
    if len(tokenizer) <= 5 or all(i == tokenizer.unk_token_id for i in probe):
        raise ValueError(
            f"{source}: the tokenizer has {len(tokenizer)} tokens and maps text to <unk>; "
            "the sentencepiece model was not loaded"
        )


def train_sentencepiece(text_files: Sequence[str], out_dir: str, vocab_size: int = 8000) -> str:
    """Trains a unigram sentencepiece model with XLM-R's special-token layout.

    `unk=0, bos=1, eos=2`, no pad: the XLM-R tokenizer shifts these into
    `<s>=0, <pad>=1, </s>=2, <unk>=3` and appends `<mask>`.
    Returns the path of the `.model` file.
    """
    import sentencepiece as spm

    for path in text_files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: text file not found")
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, SPM_FILE.removesuffix(".model"))
    spm.SentencePieceTrainer.train(
        input=",".join(text_files),
        model_prefix=prefix,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,  # keep every character of every script
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        hard_vocab_limit=False,  # small corpora: take as many pieces as the text allows
        minloglevel=2,
    )
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xlmr_flax.tokenizer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a sentencepiece model on text files")
    train.add_argument("--text", nargs="+", default=None, help="default: the bundled sample text")
    train.add_argument("--out", required=True)
    train.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args(argv)
    path = train_sentencepiece(args.text or sample_text_files(), args.out, args.vocab_size)
    print(f"wrote {path} ({len(load_tokenizer(path))} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
