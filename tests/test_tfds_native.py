"""`fetch` runs TFDS's real builders, their split and example generators, on files
shaped as the builders download them (tests/raw_fixtures/tfds_downloads.py), served
through TFDS's own download manager and extracted by TFDS's extractor, without
TensorFlow. The raw files it writes read back through the tasks."""

import csv

import pytest

from tests.raw_fixtures.tfds_downloads import TATOEBA, served, write_downloads
from xlmr_flax.data import tfds_native
from xlmr_flax.data.__main__ import main
from xlmr_flax.data.readers import read_anli_jsonl
from xlmr_flax.data.tf_stand_in import TF
from xlmr_flax.tasks import get_task

# Languages fetched for the tasks with one TFDS builder per language: English, a
# non-Latin script and a low-resource language each, where TFDS has them.
LANGS = {
    "panx": ["en", "ar", "yo"],
    "udpos": ["en", "ar", "ta", "tl", "yo"],
    "xquad": ["en", "ar", "th"],
    "mlqa": ["en", "ar", "hi"],
    "tatoeba": list(TATOEBA),
}


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    root = tmp_path_factory.mktemp("fetch")
    downloads = write_downloads(str(root / "served"))
    written = {}
    with served(downloads) as asked:
        for task in tfds_native.sources():
            written[task] = tfds_native.fetch(
                task, str(root / "raw"), str(root / "tfds"), LANGS.get(task)
            )
    return dict(raw=root / "raw", written=written, asked=set(asked), downloads=downloads)


def test_each_builder_downloads_exactly_the_files_served(fetched):
    assert fetched["asked"] == set(fetched["downloads"])
    assert all(fetched["written"].values())


@pytest.mark.parametrize("task,split,lang,count,check", [
    ("xnli", "train", "en", 3, lambda e: "runs in the tr park" in e["text_a"]),  # MultiNLI
    ("xnli", "dev", "en", 3, lambda e: e["label"] in ("entailment", "neutral", "contradiction")),
    ("xnli", "test", "sw", 3, lambda e: e["text_a"].startswith("Mto ni baridi")),
    ("xnli", "test", "zh", 3, lambda e: e["text_b"].startswith("水很冷")),
    ("mnli", "train", "en", 3, lambda e: e["text_a"].startswith('A "dog" runs in the tr park')),
    ("mnli", "dev", "en", 3, lambda e: "dm park" in e["text_a"]),  # matched, not mismatched
    ("snli", "train", "en", 3, lambda e: e["label"] != "-"),  # no-consensus pairs dropped
    ("qqp", "dev", "en", 4, lambda e: e["label"] in ("0", "1")),
    ("sst2", "train", "en", 4, lambda e: e["text_a"].startswith("a warm film")),
    ("squad_v1", "train", "en", 3, lambda e: e["context"][e["answers"][0]["start"]:].startswith(e["answers"][0]["text"])),
    ("squad_v2", "dev", "en", 3, lambda e: e["is_impossible"] == (e["answers"] == [])),
    ("copa", "train", "en", 4, lambda e: e["choices"] == ["It broke.", "It sang."]),
    ("copa", "dev", "en", 4, lambda e: e["label"] in (0, 1)),
    ("hellaswag", "dev", "en", 4, lambda e: len(e["choices"]) == 4),
    ("cosmosqa", "train", "en", 3, lambda e: e["label"] == 0 and len(e["choices"]) == 4),
    ("panx", "train", "en", 2, lambda e: len(e["tokens"]) == len(e["tags"])),
    ("panx", "test", "ar", 1, lambda e: e["tokens"] == ["زار", "أحمد", "القاهرة"]),
    ("panx", "dev", "yo", 1, lambda e: e["tags"] == ["B-PER", "O", "O", "B-LOC"]),
    ("udpos", "train", "en", 1, lambda e: e["tags"] == ["PROPN", "VERB", "PUNCT"]),
    ("udpos", "test", "ar", 1, lambda e: e["tokens"] == ["قرأ", "أحمد"]),  # NYUAD's "_" left out
    ("udpos", "test", "ta", 1, lambda e: e["tokens"] == ["அவன்", "வந்தான்"]),  # Tamil, not Tagalog
    ("udpos", "test", "tl", 1, lambda e: e["tokens"] == ["Kumain", "siya"]),
    ("udpos", "test", "yo", 1, lambda e: e["tags"] == ["PRON", "VERB"]),
    ("xquad", "test", "th", 1, lambda e: e["answers"][0]["text"] == "1890"),
    ("mlqa", "dev", "ar", 1, lambda e: e["id"] == "ml-dev-ar"),
    ("mlqa", "test", "hi", 1, lambda e: e["answers"][0]["text"] == "1890"),
    ("tydiqa", "train", "en", 2, lambda e: e["id"].startswith("english-")),  # ids kept whole
    ("tydiqa", "test", "sw", 1, lambda e: e["context"].startswith("Daraja")),
    ("tatoeba", "test", "sw", 2, lambda e: e["target"] in ("I like coffee.", "The sky is blue.")),
])  # fmt: skip
def test_fetched_files_read_back_with_gold(fetched, task, split, lang, count, check):
    examples = list(get_task(task).read(str(fetched["raw"]), split, lang))
    assert len(examples) == count
    assert all(check(e) for e in examples)


def test_anli_rounds_lie_as_in_the_release(fetched):
    for r in (1, 2, 3):
        examples = list(read_anli_jsonl(str(fetched["raw"] / f"anli_v1.0/R{r}/dev.jsonl")))
        assert [e["id"] for e in sorted(examples, key=lambda e: e["id"])] == [
            f"r{r}-dev-{n}" for n in range(3)
        ]
    parts = [*fetched["written"]["anli"], *fetched["written"]["mnli"], *fetched["written"]["snli"]]
    assert sorted(fetched["written"]["anli_plus"]) == sorted(parts)


def test_fetched_text_keeps_what_the_release_has(fetched):
    raw = fetched["raw"]
    # A colon inside a WikiANN token is text; only the language prefix goes.
    assert "Re:Zero\tB-ORG\n" in (raw / "panx" / "train-en.tsv").read_text(encoding="utf-8")
    # Tatoeba's two sides stay aligned line by line (LASER's layout, gold kept).
    for iso3, pairs in TATOEBA.values():
        stem = raw / "tatoeba" / f"tatoeba.{iso3}-eng"
        lines = zip(
            (stem.parent / f"{stem.name}.{iso3}").read_text(encoding="utf-8").splitlines(),
            (stem.parent / f"{stem.name}.eng").read_text(encoding="utf-8").splitlines(),
            strict=True,
        )
        assert sorted(lines) == sorted(pairs)
    # XNLI as XTREME writes it: csv.writer quotes a field holding a quote.
    with open(raw / "xnli" / "dev-de.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0][0].startswith('Er sagte "kalt" am Fluss.') and len(rows) == 3
    assert not list(raw.rglob("*.partial"))


def test_a_failed_build_writes_nothing(tmp_path):
    downloads = write_downloads(str(tmp_path / "served"))
    url = "https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip"
    downloads[url] = downloads["https://cims.nyu.edu/~sbowman/xnli/XNLI-1.0.zip"]  # wrong file
    with served(downloads), pytest.raises(Exception, match="context-en-question-en"):
        tfds_native.fetch("mlqa", str(tmp_path / "raw"), str(tmp_path / "tfds"), ["en"])
    assert not (tmp_path / "raw").exists()


def test_fetch_command(tmp_path, capsys):
    downloads = write_downloads(str(tmp_path / "served"))
    args = ["fetch", "--raw", str(tmp_path / "raw"), "--tfds-dir", str(tmp_path / "tfds")]
    with served(downloads):
        assert main([*args, "--task", "udpos", "--langs", "yo"]) == 0
        assert "udpos/test-yo.tsv" in capsys.readouterr().out
        assert main([*args, "--task", "udpos", "--langs", "wo"]) == 1
        assert "no udpos data for wo" in capsys.readouterr().err
        assert main([*args, "--task", "siqa"]) == 1
        assert "TFDS has no builder used for 'siqa'" in capsys.readouterr().err


class NeedsMoreOfTensorFlow(tfds_native.BuilderRef):
    def records(self, data_dir):
        return TF.data  # what a builder asking for tf.data meets without TensorFlow


def test_a_builder_that_needs_tensorflow_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    assert TF.int32 is not None and TF.io.gfile.GFile
    source = tfds_native.NativeSource(lambda langs: {"": NeedsMoreOfTensorFlow("", "")}, None)
    monkeypatch.setitem(tfds_native.NATIVE, "copa", source)
    assert main(["fetch", "--task", "copa", "--raw", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "this TFDS builder uses tf.data, which needs TensorFlow: pip install tensorflow\n"
