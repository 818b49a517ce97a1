"""The XLM-R tokenizer from a sentencepiece model: real ids, offsets, several scripts."""

import os

import pytest
import transformers

from xlmr_flax.tokenizer import (
    load_tokenizer,
    sample_text_files,
    sample_tokenizer_path,
    train_sentencepiece,
)

TEXTS = {
    "latin": "Die Kinder spielen im Park Fußball.",
    "cyrillic": "Река течёт через старую деревню.",
    "arabic": "يجري النهر عبر القرية القديمة.",
    "devanagari": "नदी पुराने गाँव से होकर बहती है।",
    "cjk": "这条河流过古老的村庄。",
}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(sample_tokenizer_path())


def test_sample_tokenizer_has_xlmr_special_token_layout(tokenizer):
    assert (
        tokenizer.cls_token_id,
        tokenizer.pad_token_id,
        tokenizer.sep_token_id,
        tokenizer.unk_token_id,
    ) == (0, 1, 2, 3)
    assert tokenizer.mask_token_id == len(tokenizer) - 1
    assert len(tokenizer) > 1000


@pytest.mark.parametrize("script", list(TEXTS))
def test_real_ids_and_offsets_map_back_to_the_text(tokenizer, script):
    text = TEXTS[script]
    encoded = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.unk_token_id not in ids
    pieces = tokenizer.convert_ids_to_tokens(ids)
    covered = set()
    for piece, (start, end) in zip(pieces[1:-1], offsets[1:-1], strict=True):
        if piece == "▁":  # a bare word-start marker covers no character of its own
            continue
        assert text[start:end] == piece.lstrip("▁"), (piece, start, end)
        covered.update(range(start, end))
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace()}


def test_pairs_use_xlmr_separators(tokenizer):
    ids = tokenizer("a", "b")["input_ids"]
    assert ids.count(tokenizer.sep_token_id) == 3  # <s> A </s></s> B </s>


def test_vocab_file_only_tokenizer_is_detected():
    """transformers v5 ignores `vocab_file` alone; such a tokenizer must not pass as real."""
    from xlmr_flax.tokenizer import _check_real_ids

    broken = transformers.XLMRobertaTokenizer(vocab_file=sample_tokenizer_path())
    with pytest.raises(ValueError, match="maps text to <unk>"):
        _check_real_ids(broken, "vocab_file only")


def test_train_sentencepiece_builds_a_working_tokenizer(tmp_path):
    path = train_sentencepiece(sample_text_files(), str(tmp_path), vocab_size=600)
    assert os.path.basename(path) == "sentencepiece.bpe.model"
    tokenizer = load_tokenizer(path)
    assert 300 < len(tokenizer) <= 602
    assert tokenizer.unk_token_id not in tokenizer(TEXTS["cyrillic"])["input_ids"]


def test_tokenizer_saved_directory_loads_back(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(str(tmp_path))
    for text in TEXTS.values():
        assert again(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_bad_tokenizer_paths_are_named(tmp_path):
    not_a_model = tmp_path / "vocab.txt"
    not_a_model.write_text("hello")
    with pytest.raises(ValueError, match=r"vocab\.txt: expected a sentencepiece \.model file"):
        load_tokenizer(str(not_a_model))
    with pytest.raises(ValueError, match="cannot load an XLM-R tokenizer"):
        load_tokenizer(str(tmp_path / "missing.model"))
