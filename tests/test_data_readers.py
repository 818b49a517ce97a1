"""Every task reads its bundled sample data; malformed input fails naming file and line."""

import json
import os

import pytest

from xlmr_flax.data import lareqa, mewslix, readers
from xlmr_flax.data.__main__ import main as data_main
from xlmr_flax.data.sources import tatoeba, xnli
from xlmr_flax.errors import DataError
from xlmr_flax.formats import FORMATS
from xlmr_flax.tasks import TARGETS, TASKS, get_task

SAMPLE = os.path.join(os.path.dirname(readers.__file__), "..", "assets", "sample_data")


def test_registry_has_every_target_and_intermediate_task():
    assert set(TARGETS) == {"xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa",
                            "tatoeba", "mewslix", "lareqa"}  # fmt: skip
    intermediate = {"anli_plus", "mnli", "qqp", "sst2", "squad_v1", "squad_v2", "hellaswag",
                    "ccg", "cosmosqa", "commonsenseqa", "mlm"}  # fmt: skip
    assert intermediate <= set(TASKS)
    assert {t.format for t in TASKS.values()} == set(FORMATS)
    assert get_task("xcopa").train_on == ("siqa", "copa")
    assert get_task("tatoeba").train_on == ()


def test_official_language_lists():
    sizes = {name: len(get_task(name).eval_langs) for name in TARGETS}
    assert sizes == {"xnli": 15, "xcopa": 11, "udpos": 38, "panx": 48, "xquad": 12, "mlqa": 7,
                     "tydiqa": 9, "tatoeba": 41, "mewslix": 11, "lareqa": 11}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_reads_its_sample_data(name):
    task = get_task(name)
    available = task.available(SAMPLE)
    assert available, f"no sample data for {name}"
    for split, lang in available:
        examples = list(task.read(SAMPLE, split, lang))
        assert examples, (split, lang)
        assert len({e["id"] for e in examples}) == len(examples)
        if task.labels and task.format == "classification":
            assert {e["label"] for e in examples} <= set(task.labels)


def test_samples_cover_scripts_and_a_low_resource_language():
    langs = {lang for t in TASKS.values() for _, lang in t.available(SAMPLE)}
    assert {"ru", "ar", "hi"} & langs and {"zh", "ja"} & langs
    assert "sw" in langs  # Joshi class 2


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


SQUAD_OK = {"data": [{"title": "t", "paragraphs": [{"context": "Berlin is big.",
            "qas": [{"id": "q1", "question": "What?", "answers": [{"text": "Berlin", "answer_start": 0}]}]}]}]}  # fmt: skip


def squad_with(**qa_changes):
    data = json.loads(json.dumps(SQUAD_OK))
    data["data"][0]["paragraphs"][0]["qas"][0].update(qa_changes)
    return json.dumps(data)


MALFORMED = [
    # (file name, content, reader, expected message)
    ("x.tsv", "a\n", xnli.read_xtreme_tsv, r"x\.tsv:1: expected premise, hypothesis and .* found 1"),
    ("x.tsv", "a\tb\tneutral\nc\td\n", xnli.read_xtreme_tsv, r"x\.tsv:2: 2 columns, but the file's first row has 3"),
    ("x.tsv", "a\tb\tentailment\nc\td\tmaybe\n", xnli.read_xtreme_tsv, r"x\.tsv:2: label 'maybe' not in"),
    ("x.tsv", "", xnli.read_xtreme_tsv, r"x\.tsv: no examples"),
    ("x.tsv", b"a\tb\tneutral\n\xff\xfe\tb\tneutral\n", xnli.read_xtreme_tsv, r"x\.tsv:2: not valid UTF-8"),
    ("q.tsv", "id\tqid1\tquestion1\tquestion2\tis_duplicate\n1\t2\ta\t1\n",
     lambda p: readers.read_glue_tsv(p, "question1", "question2", "is_duplicate", ("0", "1")),
     r"q\.tsv:2: expected 5 columns, found 4"),
    ("q.tsv", "sentence\tlabel\ngood\t1\n", lambda p: readers.read_glue_tsv(p, "sentence", None, "score", ("0", "1")),
     r"q\.tsv:1: header lacks column\(s\) \['score'\]"),
    ("q.tsv", "id\tsentence\tlabel\n7\tgood\t1\n7\tbad\t0\n",
     lambda p: readers.read_glue_tsv(p, "sentence", None, "label", ("0", "1")), r"q\.tsv:3: duplicate id '7'"),
    ("a.jsonl", '{"uid": "1", "context": "c", "hypothesis": "h", "label": "e"}\n{"uid": "2", "context": \n',
     readers.read_anli_jsonl, r"a\.jsonl:2: invalid JSON"),
    ("a.jsonl", '{"uid": "1", "context": "c", "label": "e"}\n', readers.read_anli_jsonl,
     r"a\.jsonl:1: missing field\(s\) \['hypothesis'\]"),
    ("c.jsonl", '{"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "label": 0, "idx": 1}\n',
     readers.read_copa_jsonl, r"c\.jsonl:1: label 'why' not in"),
    ("h.jsonl", '{"ind": 1, "ctx": "c", "endings": ["a", "b"], "label": 0}\n', readers.read_hellaswag,
     r"h\.jsonl:1: 'endings' must be a list of 4 strings"),
    ("s.json", squad_with(answers=[{"text": "Paris", "answer_start": 0}]), readers.read_squad_json,
     r"s\.json: question 'q1': answer 'Paris' does not match the context at 0 \('Berli'\)"),
    ("s.json", squad_with(answers=[]), readers.read_squad_json,
     r"s\.json: question 'q1': no answers and not marked is_impossible"),
    ("s.json", '{"data": [', readers.read_squad_json, r"s\.json:1: invalid JSON"),
    ("u.tsv", "The\tDET\ncat\tNOUN\tEXTRA\n", readers.read_conll, r"u\.tsv:2: expected 'token<TAB>tag', found"),
    ("u.tsv", "The\tDET\ncat\tNOUN\n\nDogs\tNONSENSE\n",
     lambda p: readers.read_conll(p, allowed_tags=("DET", "NOUN")), r"u\.tsv:4: tag 'NONSENSE' not in"),
    ("m.jsonl", '{"example_id": "a", "lang": "de", "context": "Hallo", "mention_span": {"start": 2, "end": 9}, '
     '"entity_id": "Q1"}\n', mewslix.read_mentions, r"m\.jsonl:1: mention span .* outside the context"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,reader,message", MALFORMED)
def test_malformed_input_names_file_and_line(tmp_path, name, content, reader, message):
    path = write(tmp_path, name, content, "wb" if isinstance(content, bytes) else "w")
    with pytest.raises(DataError, match=message):
        list(reader(path))


def test_siqa_label_count_mismatch_and_tatoeba_length_mismatch(tmp_path):
    line = '{"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c"}\n'
    examples, labels = write(tmp_path, "s.jsonl", line * 2), write(tmp_path, "s.lst", "1\n")
    with pytest.raises(DataError, match=r"s\.lst: 1 labels for 2 examples"):
        list(readers.read_siqa(examples, labels))
    a, b = write(tmp_path, "t.deu", "Hallo\nTschüss\n"), write(tmp_path, "t.eng", "Hello\n")
    with pytest.raises(DataError, match=r"t\.deu: 2 lines but .*t\.eng has 1"):
        list(tatoeba.read_laser_pairs(a, b))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"no files of xnli test sw \(expected .*xnli/test-sw\.tsv"):
        list(get_task("xnli").read(str(tmp_path), "test", "sw"))


def test_validate_cli_prints_counts_or_the_problem(tmp_path, capsys):
    assert data_main(["validate", "--task", "xnli", "--file", f"{SAMPLE}/xnli/test-sw.tsv"]) == 0
    out = capsys.readouterr().out
    assert "9 examples" in out and "entailment\t3" in out
    bad = write(tmp_path, "bad.tsv", "a\tb\tentailment\nonly one column\n")
    assert data_main(["validate", "--task", "xnli", "--layout", "xtreme", "--file", bad]) == 1
    assert "bad.tsv:2: expected premise, hypothesis" in capsys.readouterr().err


def test_lareqa_answers_point_into_the_sentence_pool():
    path = os.path.join(SAMPLE, "lareqa", "xquad-r", "de.json")
    pool = lareqa.read_candidates(path)
    squad = {e["id"]: e for e in readers.read_squad_json(path)}
    for question in lareqa.read_questions(path):
        answer = squad[question["id"]]["answers"][0]["text"]
        assert answer in pool[question["answer_sentence"]]["sentence"]
