"""Raw files written from TFDS's own builders read back through our readers.

The builders need the network, so a stand-in returns records shaped as TFDS's
catalog documents them (bytes for text, ClassLabel integers)."""

import numpy as np
import pytest

from xlmr_flax.data import tfds_native
from xlmr_flax.tasks import get_task

XNLI_LANGS = get_task("xnli").eval_langs
RECORDS = {
    "xnli": {"test": [{
        "premise": {lang.encode(): f"premise {lang}".encode() for lang in XNLI_LANGS},
        "hypothesis": {"language": [lang.encode() for lang in XNLI_LANGS],
                       "translation": [f"hyp\t{lang}".encode() for lang in XNLI_LANGS]},
        "label": np.int64(2)}], "validation": []},
    "squad/v1.1": {"train": [
        {"id": b"a", "title": b"T", "context": b"Ada lives in Rome.", "question": b"Where?",
         "answers": {"text": [b"Rome"], "answer_start": np.array([13])}},
        {"id": b"b", "title": b"T", "context": b"Ada lives in Rome.", "question": b"Who?",
         "answers": {"text": [b"Ada"], "answer_start": np.array([0])}}], "validation": []},
    "multi_nli": {"train": [{"premise": b"p", "hypothesis": b"h", "label": np.int64(0)}],
                  "validation_matched": [{"premise": b"q", "hypothesis": b"g", "label": np.int64(1)}]},
    "glue/qqp": {"train": [{"question1": b"a?", "question2": b"b?", "label": 1, "idx": 0}], "validation": []},
    "super_glue/copa": {"train": [{"premise": b"It rained.", "choice1": b"Wet.", "choice2": b"Dry.",
                                   "question": b"effect", "label": 0, "idx": 0}], "validation": []},
    "hellaswag": {"train": [{"context": b"She", "endings": [b"a", b"b", b"c", b"d"], "label": 3,
                             "activity_label": b"x"}], "validation": []},
}  # fmt: skip


class FakeBuilder:
    def __init__(self, name):
        self.name = name

    def download_and_prepare(self):
        pass

    def as_data_source(self):
        return RECORDS[self.name]


@pytest.fixture
def fake_tfds(monkeypatch):
    monkeypatch.setattr(tfds_native.tfds, "builder", lambda name, **kw: FakeBuilder(name))


@pytest.mark.parametrize("task,split,lang,check", [
    ("xnli", "test", "sw", lambda e: e == dict(id="test-sw.tsv-1", text_a="premise sw", text_b="hyp sw", label="contradiction")),
    ("squad_v1", "train", "en", lambda e: e["context"][e["answers"][0]["start"]:].startswith(e["answers"][0]["text"])),
    ("mnli", "dev", "en", lambda e: (e["text_a"], e["label"]) == ("q", "neutral")),
    ("qqp", "train", "en", lambda e: e["label"] == "1"),
    ("copa", "train", "en", lambda e: e["choices"] == ["Wet.", "Dry."] and e["label"] == 0),
    ("hellaswag", "train", "en", lambda e: e["label"] == 3 and len(e["choices"]) == 4),
])  # fmt: skip
def test_fetched_files_read_back(fake_tfds, tmp_path, task, split, lang, check):
    tfds_native.fetch(task, str(tmp_path))
    examples = list(get_task(task).read(str(tmp_path), split, lang))
    assert examples and all(check(e) for e in examples)
    assert not list(tmp_path.rglob("*.partial"))


def test_tasks_without_a_tfds_builder_say_so(tmp_path):
    with pytest.raises(ValueError, match="TFDS has no builder used for 'udpos'"):
        tfds_native.fetch("udpos", str(tmp_path))
