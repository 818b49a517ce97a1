"""XNLI, PAN-X, UD-POS and Tatoeba: the folder XTREME's download script leaves and the
original releases are both read; each of the script's transformations is undone or
reported (test gold gone -> prediction-only); bad lines are named FILE:LINE."""

import os

import pytest

from eval.scoring.gold import plan_evaluation
from eval.scoring.submission import gold_from_raw, write_labels
from tests.raw_fixtures import sentence_and_tagging
from xlmr_flax.data import readers
from xlmr_flax.data.__main__ import main as data_main
from xlmr_flax.data.doctor import inspect
from xlmr_flax.data.sources import tatoeba, ud, wikiann, xnli
from xlmr_flax.errors import DataError
from xlmr_flax.tasks import get_task

TASKS = ("xnli", "panx", "udpos", "tatoeba")
INPUTS = {"xnli": ("text_a", "text_b"), "panx": ("tokens",), "udpos": ("tokens",),
          "tatoeba": ("source", "target")}  # fmt: skip


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    originals, xtreme = tmp_path_factory.mktemp("originals"), tmp_path_factory.mktemp("xtreme")
    sentence_and_tagging.write_originals(str(originals))
    sentence_and_tagging.write_xtreme(str(xtreme))
    return str(originals), str(xtreme)


def gold_field(task):
    return task.gold_field or {"classification": "label", "token_tagging": "tags"}[task.format]


def read(root, name, split, lang):
    return list(get_task(name).read(root, split, lang))


@pytest.mark.parametrize("name", TASKS)
def test_both_folders_give_the_same_splits_each_through_its_own_layout(folders, name):
    task = get_task(name)
    originals, xtreme = folders
    found = task.available(originals)
    assert found and found == task.available(xtreme)
    for split, lang in found:
        assert task.locate(originals, split, lang)[0].name in ("original", "xnli-mt")
        assert task.locate(xtreme, split, lang)[0].name == "xtreme"


@pytest.mark.parametrize("name", TASKS)
def test_xtremes_test_copies_are_prediction_only_and_the_releases_have_the_gold(folders, name):
    task = get_task(name)
    originals, xtreme = folders
    for split, lang in task.available(xtreme):
        field = gold_field(task)
        if split == "test":
            assert task.gold(xtreme, split, lang), (split, lang)  # the reason there is none
            assert all(e[field] is None for e in read(xtreme, name, split, lang))
        else:  # XTREME keeps the training and dev gold
            assert task.gold(xtreme, split, lang) is None
        assert task.gold(originals, split, lang) is None
        assert all(e[field] is not None for e in read(originals, name, split, lang))


@pytest.mark.parametrize("name", TASKS)
def test_the_release_and_xtremes_copy_hold_the_same_examples_in_the_same_order(folders, name):
    task = get_task(name)
    originals, xtreme = folders
    for split, lang in task.available(xtreme):
        ours, theirs = read(originals, name, split, lang), read(xtreme, name, split, lang)
        for key in INPUTS[name]:
            assert [e[key] for e in ours] == [e[key] for e in theirs], (split, lang, key)
        if task.gold(xtreme, split, lang) is None:
            field = gold_field(task)
            assert [e[field] for e in ours] == [e[field] for e in theirs], (split, lang)


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("folder", ["originals", "xtreme"])
def test_every_split_of_either_folder_reads(folders, name, folder):
    rows = inspect(folders[0] if folder == "originals" else folders[1], [name])
    assert "test" in {r.split for r in rows}
    assert [r.problem for r in rows if r.problem] == []


def test_validate_picks_the_layout_whose_file_names_fit(folders, capsys):
    originals, xtreme = folders
    for path in (f"{xtreme}/panx/test-sw.tsv", f"{originals}/panx/sw/test"):
        assert data_main(["validate", "--task", "panx", "--file", path]) == 0
    assert "(no gold)\t2" in capsys.readouterr().out  # XTREME's untagged test copy
    tatoeba_files = [f"{xtreme}/tatoeba/de-en.de", f"{xtreme}/tatoeba/de-en.en"]
    assert data_main(["validate", "--task", "tatoeba", "--file", tatoeba_files[0],
                      "--file", tatoeba_files[1]]) == 0  # fmt: skip


# --- XNLI -------------------------------------------------------------------------------


def test_xnli_text_that_csv_writer_quoted_is_read_back_as_written(folders):
    _, xtreme = folders
    with open(os.path.join(xtreme, "xnli/dev-en.tsv"), encoding="utf-8", newline="") as f:
        assert (
            f.readline()
            == '"He said ""hi"" to the driver."\tHe greeted the driver.\tentailment\r\n'
        )
    assert read(xtreme, "xnli", "dev", "en")[0]["text_a"] == 'He said "hi" to the driver.'
    assert read(xtreme, "xnli", "test", "de")[2]["text_a"] == 'Er rief "Halt!" und lief los.'
    train = read(xtreme, "xnli", "train", "en")
    assert train[3]["text_a"] == 'She said "good night" and closed the door.'
    assert train[1]["label"] == "contradiction"  # the release's "contradictory"


def test_xnli_release_is_one_file_for_all_languages_read_per_language(folders):
    originals, _ = folders
    german = read(originals, "xnli", "test", "de")
    assert [e["text_a"] for e in german][:1] == ["Die Schule beginnt um acht Uhr."]
    assert {e["lang"] for e in german} == {"de"}
    assert [e["label"] for e in read(originals, "xnli", "train", "en")][:2] == [
        "entailment", "contradiction"]  # fmt: skip


# --- PAN-X ------------------------------------------------------------------------------


def test_panx_prefix_is_removed_once_and_only_where_it_names_the_files_language(folders):
    originals, xtreme = folders
    for root in folders:
        tokens = [t for e in read(root, "panx", "train", "en") for t in e["tokens"]]
        assert "Re:Zero" in tokens and not any(t.startswith("en:") for t in tokens)
    with open(os.path.join(originals, "panx/en/train"), encoding="utf-8") as f:
        assert "en:Re:Zero\tB-ORG\n" in f.read()
    assert read(xtreme, "panx", "test", "en")[0]["tokens"][4] == "Re:Vision"


# --- UD-POS -----------------------------------------------------------------------------


def test_ud_treebanks_of_a_language_are_merged_per_split_in_file_name_order(folders):
    originals, _ = folders
    release = os.path.join(originals, sentence_and_tagging.UD_RELEASE)
    names = [os.path.basename(f) for f in ud.treebank_files(release, "train", "en")]
    assert names == ["en_esl-ud-train.conllu", "en_ewt-ud-train.conllu", "en_gum-ud-train.conllu"]
    tested = {lang for split, lang in get_task("udpos").available(originals) if split == "test"}
    assert tested == {"en", "es", "hi", "vi", "wo"}  # not Gothic: no UD-POS language
    sentences = [" ".join(e["tokens"]) for e in read(originals, "udpos", "train", "en")]
    assert sentences[0] == "We walked home ."  # ESL has no text: its sentences are dropped
    assert sentences[4] == "Rain fell ."  # GUM after EWT
    assert "A _ arrived ." in sentences  # one form missing: kept, as XTREME does
    assert not any(s.startswith("_ _") for s in sentences)  # all but one missing: dropped


def test_ud_multiword_tokens_take_their_form_and_the_upos_of_their_head_word(folders):
    originals, _ = folders
    salio = read(originals, "udpos", "dev", "es")[0]
    assert list(zip(salio["tokens"], salio["tags"], strict=True))[:3] == [
        ("Salió", "VERB"), ("del", "ADP"), ("parque", "NOUN")]  # fmt: skip
    damelo, voy = read(originals, "udpos", "test", "es")
    assert (damelo["tokens"][0], damelo["tags"][0]) == ("Dámelo", "VERB")  # the tree's head
    assert (voy["tokens"][1], voy["tags"][1]) == ("al", "ADP")  # tie: Spanish prefers ADP


def test_ud_forms_lose_spaces_and_non_joiners_and_empty_nodes_are_no_words(folders):
    originals, _ = folders
    assert read(originals, "udpos", "test", "vi")[0]["tokens"][3] == "HàNội"
    assert read(originals, "udpos", "test", "hi")[1]["tokens"][2] == "जारही"
    assert read(originals, "udpos", "test", "en")[2]["tokens"] == ["Snow", "melts", "."]


# --- Tatoeba ----------------------------------------------------------------------------


def test_tatoeba_candidates_are_the_english_side_in_xtremes_sorted_order(folders):
    originals, xtreme = folders
    for lang, pairs in sentence_and_tagging.TATOEBA.items():
        examples = read(originals, "tatoeba", "test", lang)
        english = [e["target"] for e in examples]
        assert (
            english
            == sorted(english)
            == [e["target"] for e in read(xtreme, "tatoeba", "test", lang)]
        )
        for example, (source, translation) in zip(examples, pairs, strict=True):
            assert example["source"] == source
            assert english[example["target_index"]] == translation
        assert gold_from_raw("tatoeba", lang, originals) == [e["target_index"] for e in examples]
    # Two sentences with one English translation each point at their own copy of it.
    assert [e["target_index"] for e in read(originals, "tatoeba", "test", "sw")][3:] == [2, 3]
    assert "sorts the English side" in get_task("tatoeba").gold(xtreme, "test", "de")


def test_xtremes_tatoeba_copy_is_scored_with_labels_counting_its_sorted_english(folders, tmp_path):
    originals, xtreme = folders
    for (
        lang
    ) in sentence_and_tagging.TATOEBA:  # the labels XTREME keeps: indices into the sorted side
        write_labels(str(tmp_path), "tatoeba", lang, gold_from_raw("tatoeba", lang, originals))
    assert plan_evaluation("tatoeba", xtreme).split is None
    plan = plan_evaluation("tatoeba", xtreme, str(tmp_path))
    assert plan.split == "test" and {s.origin for s in plan.scored.values()} == {"labels"}
    assert plan.scored["sw"].load("tatoeba", xtreme) == [1, 0, 4, 2, 3]


# --- errors -----------------------------------------------------------------------------

RELEASE_HEADER = "\t".join(sentence_and_tagging.XNLI_COLUMNS)
MALFORMED = [
    # (file, content, reader, message)
    ("test-de.tsv", "a\tb\tneutral\nc\td\n", xnli.read_xtreme_tsv,
     r"test-de\.tsv:2: 2 columns, but the file's first row has 3"),
    ("test-de.tsv", '"a\tb\n', xnli.read_xtreme_tsv, r"test-de\.tsv:1: bad quoting"),
    ("xnli.test.tsv", "language\tsentence1\tsentence2\nde\ta\tb\n", xnli.read_xnli_release,
     r"xnli\.test\.tsv:1: header lacks column\(s\) \['gold_label'\]"),
    ("xnli.test.tsv", RELEASE_HEADER + "\nde\tneutral\ta\n", xnli.read_xnli_release,
     r"xnli\.test\.tsv:2: expected 19 columns, found 3"),
    ("xnli.dev.tsv", RELEASE_HEADER + "\n" + "\t".join(["de", "maybe"] + ["x"] * 17) + "\n",
     xnli.read_xnli_release, r"xnli\.dev\.tsv:2: label 'maybe' not in"),
    ("en/dev", "en:Paulo\tB-PER\nvisited\tO\n", wikiann.read_wikiann,
     r"en/dev:2: expected a token after the file's language prefix 'en:' \(the folder name\), "
     r"found 'visited'"),
    ("en/dev", "de:Paulo\tB-PER\n", wikiann.read_wikiann, r"en/dev:1: .* found 'de:Paulo'"),
    ("en/dev", "en:Paulo\n", wikiann.read_wikiann, r"en/dev:1: expected 'en:token<TAB>tag'"),
    ("test-en.tsv", "Dogs\tNOUN\nbark\n", lambda p: get_task("udpos").layouts[-1].reader(p),
     r"test-en\.tsv:2: no tag here, but every token before has one"),
    ("train.tsv", "The\tNP[nb]/N\ncat\n", readers.read_conll,  # only XTREME's layouts allow untagged
     r"train\.tsv:2: expected 'token<TAB>tag', found 'cat'"),
    ("en_x-ud-dev.conllu", "# text = Hi\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\n", ud.read_treebanks,
     r"en_x-ud-dev\.conllu:2: expected 10 tab-separated CoNLL-U columns, found 9"),
    ("en_x-ud-dev.conllu", "1\tHi\thi\tHELLO\t_\t_\t0\troot\t_\t_\n",
     lambda p: get_task("udpos").layouts[0].reader(p),
     r"en_x-ud-dev\.conllu:1: UPOS 'HELLO' not in the task's tag set"),
    ("en_x-ud-dev.conllu", "1-3\tcannot\t_\t_\t_\t_\t_\t_\t_\t_\n1\tcan\tcan\tAUX\t_\t_\t0\troot\t_\t_\n",
     ud.read_treebanks, r"en_x-ud-dev\.conllu:1: multiword token 1-3 covers missing words"),
    ("de-en.de", "Hallo\n\n", lambda p: tatoeba.read_laser_pairs(p, p), r"de-en\.de:2: empty sentence"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,reader,message", MALFORMED)
def test_malformed_input_names_file_and_line(tmp_path, name, content, reader, message):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        list(reader(str(path)))
