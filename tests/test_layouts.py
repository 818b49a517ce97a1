"""Task layouts: which files are read, in which order of preference, and whether a
split has gold."""

import json

import pytest

from xlmr_flax.data import readers
from xlmr_flax.data.sources import xnli
from xlmr_flax.errors import DataError
from xlmr_flax.tasks.base import Layout, Task


def _tsv(path: str):
    for number, line in readers._lines(path):
        fields = line.split("\t")
        yield dict(id=str(number), text_a=fields[0], text_b="", label=(fields[1:] or [None])[0])


TOY = Task(
    name="toy",
    format="classification",
    source="test",
    metric="accuracy",
    labels=("a", "b"),
    splits=("train", "dev", "test"),
    eval_langs=("de", "sw"),
    layouts=(
        Layout("original", paths=lambda split, lang: [f"orig/{lang}.{split}"], reader=_tsv),
        Layout(
            "xtreme",
            paths=lambda split, lang: [f"toy/{split}-{lang}.tsv"],
            reader=_tsv,
            no_gold={"test": "XTREME's copy has no test labels"},
        ),
    ),
)


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_first_layout_whose_files_exist_is_read(tmp_path):
    write(tmp_path, "toy/test-de.tsv", "x\n")
    assert TOY.locate(str(tmp_path), "test", "de")[0].name == "xtreme"
    write(tmp_path, "orig/de.test", "x\ta\n")
    layout, files = TOY.locate(str(tmp_path), "test", "de")
    assert layout.name == "original" and files == [str(tmp_path / "orig/de.test")]
    assert [e["label"] for e in TOY.read(str(tmp_path), "test", "de")] == ["a"]
    assert TOY.locate(str(tmp_path), "test", "sw") is None
    assert TOY.available(str(tmp_path)) == [("test", "de")]


def test_gold_is_absent_where_the_layout_says_so_or_the_examples_lack_it(tmp_path):
    root = str(tmp_path)
    write(tmp_path, "toy/test-de.tsv", "x\ta\n")  # labelled, but XTREME's copy: never gold
    write(tmp_path, "toy/dev-de.tsv", "x\ny\n")  # no label column
    write(tmp_path, "toy/dev-sw.tsv", "x\tb\n")
    assert TOY.gold(root, "test", "de") == "XTREME's copy has no test labels"
    assert "no gold label" in TOY.gold(root, "dev", "de")
    assert TOY.gold(root, "dev", "sw") is None
    assert TOY.gold(root, "test", "sw").startswith("no files (expected original: orig/sw.test")


def test_a_missing_split_names_every_accepted_layout(tmp_path):
    with pytest.raises(DataError, match=r"original: orig/sw\.dev or xtreme: toy/dev-sw\.tsv"):
        list(TOY.read(str(tmp_path), "dev", "sw"))


def test_a_utf8_byte_order_mark_is_not_text(tmp_path):
    bom = "\ufeff"
    tsv = write(tmp_path, "x.tsv", f"{bom}Hallo\tWelt\tneutral\n")
    assert next(xnli.read_xtreme_tsv(tsv))["text_a"] == "Hallo"
    line = dict(premise="p", choice1="a", choice2="b", question="cause", label=0, idx=1)
    jsonl = write(tmp_path, "x.jsonl", bom + json.dumps(line) + "\n")
    assert next(readers.read_copa_jsonl(jsonl))["context"] == "p"
    squad = dict(
        data=[
            dict(
                title="t",
                paragraphs=[
                    dict(
                        context="Berlin ist groß.",
                        qas=[
                            dict(
                                id="q", question="?", answers=[dict(text="Berlin", answer_start=0)]
                            )
                        ],
                    )
                ],
            )
        ]
    )
    path = write(tmp_path, "x.json", bom + json.dumps(squad))
    assert next(readers.read_squad_json(path))["answers"][0]["text"] == "Berlin"


def test_examples_without_gold_are_featurised_with_ignored_labels():
    from xlmr_flax.data import features as F
    from xlmr_flax.tasks import get_task
    from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

    tokenizer = load_tokenizer(sample_tokenizer_path())
    nli = dict(id="1", text_a="Er kommt.", text_b="Er geht.", label=None)
    [feature] = F.classification(get_task("xnli"), [nli], tokenizer, 32)
    assert feature["label"] == F.IGNORE
    tagged = dict(id="2", tokens=["Anna", "lacht"], tags=None)
    [feature] = F.token_tagging(get_task("panx"), [tagged], tokenizer, 32, ("O", "B-PER"))
    assert set(feature["labels"].tolist()) == {F.IGNORE}
    choice = dict(id="3", context="c", question="q", choices=["a", "b"], label=None)
    [feature] = F.multiple_choice(get_task("xcopa"), [choice], tokenizer, 32)
    assert feature["label"] == F.IGNORE
