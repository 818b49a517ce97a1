"""Converts a checkpoint on disk, either way.

python -m xlmr_flax.convert --hf FacebookAI/xlm-roberta-base --out DIR
python -m xlmr_flax.convert --to-hf DIR --out HF_DIR
"""

from __future__ import annotations

import argparse
import sys

from xlmr_flax.errors import CheckpointError
from xlmr_flax.pretrained import export_hf, load_pretrained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xlmr_flax.convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--hf", metavar="PATH_OR_NAME", help="transformers checkpoint to import")
    source.add_argument("--to-hf", metavar="DIR", help="our converted directory to export")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument(
        "--tokenizer",
        help="tokenizer to store with the model if the checkpoint has none "
        "(directory, hub name or sentencepiece .model)",
    )
    args = parser.parse_args(argv)
    try:
        model = load_pretrained(args.hf or args.to_hf, tokenizer=args.tokenizer)
        if args.hf:
            model.save(args.out)
        else:
            export_hf(model, args.out)
    except (CheckpointError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({model.describe()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
