"""XCOPA, COPA and SIQA as XTREME's script leaves them and as released; the
intermediate tasks from their releases (ANLI+ = ANLI R1-R3 + MultiNLI + SNLI,
Cosmos QA's CSV, jiant's CCG)."""

import pytest

from tests.raw_fixtures import reasoning_and_intermediate
from xlmr_flax.data.sources.ccg import read_ccg_jiant
from xlmr_flax.data.sources.cosmosqa import read_cosmosqa_csv
from xlmr_flax.errors import DataError
from xlmr_flax.tasks import get_task


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("c")
    reasoning_and_intermediate.write_xtreme(str(base / "xtreme"))
    reasoning_and_intermediate.write_originals(str(base / "originals"))
    return str(base / "xtreme"), str(base / "originals")


def labels(task: str, raw: str, split: str, lang: str = "en") -> list:
    return [e["label"] for e in get_task(task).read(raw, split, lang)]


def test_xtremes_zeroed_xcopa_test_labels_are_no_gold_and_its_dev_is_scored(folders):
    xtreme, originals = folders
    xcopa = get_task("xcopa")
    for lang in reasoning_and_intermediate.XCOPA_LANGS:
        assert xcopa.locate(xtreme, "test", lang)[0].name == "xtreme"
        assert xcopa.gold(xtreme, "test", lang) is not None  # zeroed: never scored
        assert set(labels("xcopa", xtreme, "test", lang)) == {None}
        assert xcopa.gold(xtreme, "dev", lang) is None
        # The release's test labels are gold, and not all 0.
        assert xcopa.gold(originals, "test", lang) is None
        assert len(set(labels("xcopa", originals, "test", lang))) == 2
        # Same examples in the same order in both folders.
        ours = [e["context"] for e in xcopa.read(xtreme, "test", lang)]
        assert ours == [e["context"] for e in xcopa.read(originals, "test", lang)]


def test_copa_trains_from_xtremes_english_xcopa_files_or_superglue(folders):
    xtreme, originals = folders
    copa = get_task("copa")
    assert copa.locate(xtreme, "train", "en")[0].name == "xtreme"
    assert labels("copa", xtreme, "train") == labels("copa", originals, "train")
    assert copa.gold(originals, "test", "en") is not None  # SuperGLUE's test has no labels


def test_siqa_v14s_answer_letters_give_the_ai2_zips_labels(folders):
    xtreme, originals = folders
    siqa = get_task("siqa")
    assert siqa.locate(xtreme, "dev", "en")[0].name == "xtreme"
    assert siqa.locate(originals, "dev", "en")[0].name == "original"
    for split in ("train", "dev"):
        assert labels("siqa", xtreme, split) == labels("siqa", originals, split)
        assert set(labels("siqa", xtreme, split)) <= {0, 1, 2}


def test_anli_plus_reads_all_three_rounds_multinli_and_snli(folders):
    _, originals = folders
    parts = {
        name: list(get_task(name).read(originals, "train")) for name in ("anli", "mnli", "snli")
    }
    together = list(get_task("anli_plus").read(originals, "train"))
    assert len(together) == sum(map(len, parts.values()))
    assert get_task("anli").locate(originals, "train", "en")[1][0].endswith("R1/train.jsonl")
    assert len(get_task("anli").locate(originals, "train", "en")[1]) == 3  # R1, R2, R3
    for name, examples in parts.items():  # every example once, tagged with its dataset
        assert [e for e in together if e["id"].startswith(f"{name}-")] == [
            {**e, "id": f"{name}-{e['id']}"} for e in examples
        ]


def test_cosmos_qa_csv_keeps_commas_quotes_and_line_breaks(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        "id,context,question,answer0,answer1,answer2,answer3,label\n"
        'q1,"She said ""wait,"" then\nleft.",Why?,a,b,c,d,2\n',
        encoding="utf-8",
    )
    [example] = read_cosmosqa_csv(str(path))
    assert example["context"] == 'She said "wait," then\nleft.' and example["label"] == 2
    assert example["choices"] == ["a", "b", "c", "d"]


def test_ccg_is_one_sentence_per_line_with_as_many_tags_as_tokens(folders, tmp_path):
    _, originals = folders
    sentences = list(get_task("ccg").read(originals, "train"))
    assert len(sentences) > 1
    assert all(len(s["tokens"]) == len(s["tags"]) > 0 for s in sentences)
    bad = tmp_path / "ccg.train"
    bad.write_text("The cat sat\tNP[nb]/N N\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ccg\.train:1: 3 tokens but 2 tags"):
        list(read_ccg_jiant(str(bad)))
