"""QA and retrieval targets read the files XTREME's download script leaves and the
original releases: blanked answers are prediction-only, TyDiQA's cut training ids lose no
example, Mewsli-X's nested and per-language files keep their gold where it exists, and
the retrieval inputs follow XTREME-R's reference code."""

import functools
import json
import os

import jax
import pytest
from flax import nnx

from eval.predict.predictor import Predictor
from eval.scoring.submission import gold_from_raw
from tests.raw_fixtures import qa_and_retrieval
from xlmr_flax import PretrainedModel, TaskModel, get_model_config, load_tokenizer
from xlmr_flax.data import features as F
from xlmr_flax.data import lareqa, mewslix, qa_sources
from xlmr_flax.data.doctor import inspect
from xlmr_flax.errors import DataError
from xlmr_flax.formats.retrieval import dual_encoder_pairs
from xlmr_flax.sharding import make_mesh
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import sample_tokenizer_path


@pytest.fixture(scope="module")
def xtreme(tmp_path_factory):
    root = tmp_path_factory.mktemp("xtreme")
    qa_and_retrieval.write_xtreme(str(root))
    return str(root)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("originals")
    qa_and_retrieval.write_originals(str(root))
    return str(root)


def ids(examples):
    return [e["id"] for e in examples]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f) if path.endswith(".json") else [json.loads(line) for line in f]


# --- span extraction ----------------------------------------------------------------------


def test_blanked_qa_answers_are_read_as_no_gold_with_every_question_kept(xtreme, originals):
    blanked = list(qa_sources.read_qa(f"{xtreme}/xquad/xquad.ar.json"))
    gold = list(qa_sources.read_qa(f"{originals}/xquad-master/xquad.ar.json"))
    assert ids(blanked) == ids(gold) and len(gold) == 6
    assert all(e["answers"] is None for e in blanked)
    assert all(e["answers"] and e["answers"][0]["text"] for e in gold)
    mlqa = f"{xtreme}/mlqa/MLQA_V1"
    assert all(e["answers"] is None for e in qa_sources.read_qa(f"{mlqa}/test/test-context-hi-question-hi.json"))  # fmt: skip
    assert all(e["answers"] for e in qa_sources.read_qa(f"{mlqa}/dev/dev-context-hi-question-hi.json"))  # fmt: skip


def test_a_file_mixing_blanked_and_real_answers_is_an_error(tmp_path, originals):
    data = load(f"{originals}/xquad-master/xquad.de.json")
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"] = [{"answer_start": 0, "text": ""}]
    path = tmp_path / "xquad.de.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=r"xquad\.de\.json: question 'xq-0-0' has a blanked answer"):
        list(qa_sources.read_qa(str(path)))


def test_tydiqa_cut_training_ids_keep_every_example_and_become_unique(xtreme, originals):
    cut = list(qa_sources.read_qa_cut_ids(f"{xtreme}/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"))  # fmt: skip
    english = list(qa_sources.read_tydiqa_release(f"{originals}/tydiqa/tydiqa-goldp-v1.1-train.json"))  # fmt: skip
    assert len(cut) == len(english) == 20
    assert len(set(ids(cut))) == 20
    assert ids(cut)[:5] == ["0", "1", "2", "3", "0~2"]  # first occurrences keep their id
    assert [e["question"] for e in cut] == [e["question"] for e in english]
    assert ids(english)[4] == "english--71-0"  # the release's full ids, negative hashes too


def test_tydiqa_release_training_file_gives_its_english_questions(tmp_path, originals):
    data = load(f"{originals}/tydiqa/tydiqa-goldp-v1.1-train.json")
    data["data"] = [d for d in data["data"] if not d["paragraphs"][0]["qas"][0]["id"].startswith("english-")]  # fmt: skip
    path = tmp_path / "tydiqa-goldp-v1.1-train.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=r"no question id starts with 'english-'"):
        list(qa_sources.read_tydiqa_release(str(path)))
    dev = f"{originals}/tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-swahili.json"
    assert {e["id"].split("-")[0] for e in qa_sources.read_tydiqa_release(dev)} == {"swahili"}


# --- Mewsli-X -----------------------------------------------------------------------------


def test_mewslix_release_mentions_are_nested_with_every_language_in_one_file(originals):
    mentions = list(mewslix.read_mentions(f"{originals}/mewslix/wikinews_mentions-test.jsonl"))
    assert {m["lang"] for m in mentions} == set(qa_and_retrieval.MEWSLIX_LANGS)
    first = mentions[0]
    assert first["context"][first["mention_start"] : first["mention_end"]] == first["mention"]
    assert first["entity_id"] == "Q9100" and first["sentence_spans"][1][0] > 0


def test_mewslix_xtreme_split_takes_gold_from_labels_and_test_has_none(xtreme, tmp_path):
    dev = f"{xtreme}/mewslix/wikinews_mentions/dev-ta.jsonl"
    labels = f"{xtreme}/mewslix/wikinews_labels/dev-ta.json"
    gold = {m["id"]: m["entity_id"] for m in mewslix.read_mentions(dev, labels)}
    assert gold == {k: v[0] for k, v in load(labels).items()}
    # a mentions file without entity ids takes them from the labels
    stripped = tmp_path / "dev-ta.jsonl"
    records = load(dev)
    for r in records:
        for m in r["mentions"]:
            del m["entity_id"]
    stripped.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert {m["id"]: m["entity_id"] for m in mewslix.read_mentions(str(stripped), labels)} == gold
    test = mewslix.read_mentions(
        f"{xtreme}/mewslix/wikinews_mentions/test-uk.jsonl",
        f"{xtreme}/mewslix/wikinews_labels/test-uk.json",
    )
    assert [m["entity_id"] for m in test] == [None, None]


def test_mewslix_training_pairs_carry_their_entity(xtreme):
    pairs = list(mewslix.read_pairs(f"{xtreme}/mewslix/wikipedia_pairs-train.jsonl"))
    assert len(pairs) == 10
    assert pairs[1]["entity"]["id"] == pairs[1]["entity_id"] == "Q9101"
    assert pairs[1]["entity"]["sentence_spans"] == [[0, 43]]


@pytest.mark.parametrize(
    "line,message",
    [
        ('{"context": {"language": "de", "text": "Hallo"}, "mentions": [{"example_id": "a", '
         '"mention_span": {"start": 0, "end": 2, "text": "Xa"}, "entity_id": "Q1"}]}',
         r"m\.jsonl:1: mention 'a': span text 'Xa' is not the context's 'Ha'"),
        ('{"context": {"language": "de"}, "mentions": []}', r"m\.jsonl:1: missing field 'text'"),
        ('{"contextual_mention": {}}', r"m\.jsonl:1: missing field 'context'"),
    ],
)  # fmt: skip
def test_malformed_mewslix_records_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "m.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    reader = mewslix.read_pairs if "contextual_mention" in line else mewslix.read_mentions
    with pytest.raises(DataError, match=message):
        list(reader(str(path)))


def test_a_mewslix_file_mixing_gold_and_blank_entity_ids_is_an_error(tmp_path, originals):
    records = load(f"{originals}/mewslix/wikinews_mentions-dev.jsonl")[:2]
    records[1]["mentions"][0]["entity_id"] = ""
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(DataError, match=r"mixed\.jsonl: mention .* has no entity id but others"):
        list(mewslix.read_mentions(str(path)))


# --- retrieval inputs (issue: XTREME-R's reference protocol) -------------------------------


def test_mewslix_mention_query_follows_the_reference(originals):
    (en,) = [m for m in mewslix.read_mentions(f"{originals}/mewslix/wikinews_mentions-dev.jsonl")
             if m["lang"] == "en" and m["mention"] == "Velmora"]  # fmt: skip
    # one sentence of context, `{ }` markers, the mention text prepended
    assert F.mention_query(en) == "Velmora: Officials in { Velmora } closed the roads."
    assert F.mention_query(en, "project") == (
        "Heavy rain fell on Monday. Officials in [Velmora] closed the roads."
    )


def test_marker_braces_already_in_the_sentence_are_escaped(xtreme):
    pair = next(mewslix.read_pairs(f"{xtreme}/mewslix/wikipedia_pairs-train.jsonl"))
    assert F.mention_query(pair) == "Velmora: Later it was linked to { Velmora } by its (editors)."


def test_entities_are_their_normalised_annotated_sentences(originals):
    entities = {e["id"]: e for e in mewslix.read_candidates(f"{originals}/mewslix/candidate_set_entities.jsonl")}  # fmt: skip
    assert F.entity_text(entities["Q9101"]) == "Port Halden is the largest port of Velmora."
    assert F.entity_text(entities["Q9101"], "project") == (
        "Port Halden is the largest\nport of Velmora. It has a naval museum."
    )
    flat = dict(description="No  sentence\nannotations.", sentence_spans=None)
    assert F.entity_text(flat) == "No sentence annotations."


def test_lareqa_candidates_are_sentence_then_paragraph(xtreme):
    path = f"{xtreme}/lareqa/xquad-r/de.json"
    pool = lareqa.read_candidates(path)
    question = next(lareqa.read_questions(path))
    answer = pool[question["answer_sentence"]]
    assert answer["sentence"] == "Amara Okoye wohnt in Port Halden."
    assert F.lareqa_candidate(answer["sentence"], answer["context"]) == (
        "Amara Okoye wohnt in Port Halden." + answer["context"]
    )
    assert (
        F.lareqa_candidate(answer["sentence"], answer["context"], "project") == answer["sentence"]
    )
    with pytest.raises(ValueError, match="retrieval protocol 'other'"):
        F.lareqa_candidate("a", "b", "other")


def test_lareqa_questions_whose_answer_is_in_no_sentence_are_left_out(tmp_path, xtreme):
    data = load(f"{xtreme}/lareqa/xquad-r/en.json")
    paragraph = data["data"][0]["paragraphs"][0]
    paragraph["sentence_breaks"] = paragraph["sentence_breaks"][:1]  # only the first sentence
    path = tmp_path / "en.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    kept = ids(lareqa.read_questions(str(path)))
    assert kept == ["lq-0-0", "lq-1-0", "lq-1-1", "lq-1-2", "lq-1-3"]
    assert os.path.basename(str(path)) == "en.json"


# --- the tasks' layouts -------------------------------------------------------------------

TASKS_B = ("squad_v1", "xquad", "mlqa", "tydiqa", "lareqa", "mewslix")
# (task, split) pairs without gold in XTREME's folder; every other split found has gold.
XTREME_NO_GOLD = {("xquad", "test"), ("mlqa", "test"), ("tydiqa", "test"), ("mewslix", "test")}


def found(task, root):
    return {(split, lang) for split, lang in get_task(task).available(root)}


@pytest.mark.parametrize("task", TASKS_B)
def test_xtreme_folder_gives_gold_except_where_the_script_removed_it(task, xtreme):
    spec = get_task(task)
    assert found(task, xtreme), f"{task}: nothing found in XTREME's folder"
    for split, lang in found(task, xtreme):
        assert spec.locate(xtreme, split, lang)[0].name == "xtreme"
        examples = list(spec.read(xtreme, split, lang))
        assert examples and len({e["id"] for e in examples}) == len(examples)
        reason = spec.gold(xtreme, split, lang)
        assert (reason is not None) == ((task, split) in XTREME_NO_GOLD), (split, lang, reason)


@pytest.mark.parametrize("task", TASKS_B)
def test_original_releases_give_gold_for_every_split(task, originals):
    spec = get_task(task)
    assert found(task, originals)
    for split, lang in found(task, originals):
        assert spec.gold(originals, split, lang) is None, (task, split, lang)


def test_originals_laid_beside_xtremes_folder_supply_the_test_gold(tmp_path):
    root = str(tmp_path)
    qa_and_retrieval.write_xtreme(root)
    qa_and_retrieval.write_originals(root)
    for task in TASKS_B:
        for split, lang in found(task, root):
            assert get_task(task).gold(root, split, lang) is None, (task, split, lang)
    assert get_task("mewslix").locate(root, "test", "ta")[0].name == "original"
    assert get_task("tydiqa").locate(root, "train", "en")[0].name == "original"


def test_every_language_written_is_found(xtreme):
    assert {lang for _, lang in found("xquad", xtreme)} == set(qa_and_retrieval.XQUAD_LANGS)
    assert found("mlqa", xtreme) == {
        (s, lang) for s in ("dev", "test") for lang in qa_and_retrieval.MLQA_LANGS
    }
    assert found("tydiqa", xtreme) == {("train", "en")} | {("test", lang) for lang in qa_and_retrieval.TYDIQA_DEV_LANGS}  # fmt: skip
    assert {lang for s, lang in found("mewslix", xtreme) if s == "test"} == set(
        qa_and_retrieval.MEWSLIX_LANGS
    )


def test_mewslix_gold_for_scoring_comes_from_xtremes_labels(xtreme):
    gold = gold_from_raw("mewslix", "de", xtreme, split="dev")
    assert gold == load(f"{xtreme}/mewslix/wikinews_labels/dev-de.json")
    with pytest.raises(DataError, match=r"mewslix test de has no gold to score: XTREME's"):
        gold_from_raw("mewslix", "de", xtreme, split="test")


def test_lareqa_gold_is_the_answer_sentence_in_every_language(xtreme):
    gold = gold_from_raw("lareqa", "ar", xtreme)
    assert gold["lq-0-0"] == ["ar-0", "de-0", "en-0", "th-0"]  # pool languages in task order
    assert gold["lq-1-3"] == ["ar-7", "de-7", "en-7", "th-7"]


@pytest.mark.parametrize("folder", ["xtreme", "originals"])
def test_every_split_of_every_qa_and_retrieval_target_reads(folder, request):
    rows = inspect(request.getfixturevalue(folder), TASKS_B)
    assert {r.task for r in rows} == set(TASKS_B)
    assert [r.problem for r in rows if r.problem] == []


def test_retrieval_training_pairs_follow_the_protocol(xtreme):
    pairs = list(get_task("mewslix").read(xtreme, "train", "en"))
    (reference,) = list(dual_encoder_pairs(get_task("mewslix"), pairs[:1], xtreme))
    assert reference[1:] == (
        "Velmora: Later it was linked to { Velmora } by its (editors).",
        "Velmora is a small coastal country.",
    )
    (project,) = list(dual_encoder_pairs(get_task("mewslix"), pairs[:1], xtreme, "project"))
    assert project[2] == "Velmora is a small coastal country. Its capital is Port Halden."
    squad = list(get_task("squad_v1").read(xtreme, "train", "en"))[:1]
    ((_, question, positive),) = dual_encoder_pairs(get_task("lareqa"), squad, xtreme)
    assert question == squad[0]["question"]
    assert positive == ("Amara Okoye lives in Port Halden.", squad[0]["context"])


class RecordingPredictor(Predictor):
    """A predictor that keeps every text it embeds."""

    texts: list

    def embed_texts(self, texts, **kw):
        self.texts.append(list(texts))
        return super().embed_texts(texts, **kw)


@functools.cache
def recording_predictor():
    tokenizer = load_tokenizer(sample_tokenizer_path())
    config = get_model_config("tiny", vocab_size=len(tokenizer))
    module = TaskModel(config, None, rngs=nnx.Rngs(0))
    model = PretrainedModel(config, nnx.to_pure_dict(nnx.state(module, nnx.Param)), None, {}, tokenizer)  # fmt: skip
    options = dict(batch_size=4, bucket_lengths=(), max_length=48)
    return RecordingPredictor(model, make_mesh((1, 1, 1), jax.devices()[:1]), options)


@pytest.mark.parametrize("protocol", ["xtreme_r", "project"])
def test_predictor_ranks_prediction_only_mentions_with_the_protocols_texts(protocol, xtreme):
    predictor = recording_predictor()
    predictor.texts = []
    ranked = predictor.predict("mewslix", "de", xtreme, retrieval_protocol=protocol)
    mentions = list(get_task("mewslix").read(xtreme, "test", "de"))
    assert list(ranked) == ids(mentions) and all(len(r) == 6 for r in ranked.values())
    entities = list(mewslix.read_candidates(f"{xtreme}/mewslix/candidate_set_entities.jsonl"))
    pool, queries = predictor.texts
    assert pool == [F.entity_text(e, protocol) for e in entities]
    assert queries == [F.mention_query(m, protocol) for m in mentions]


def test_predictor_embeds_lareqa_candidates_with_their_paragraphs(xtreme):
    predictor = recording_predictor()
    predictor.texts = []
    ranked = predictor.predict("lareqa", "th", xtreme)
    assert list(ranked) == ids(get_task("lareqa").read(xtreme, "test", "th"))
    pool, questions = predictor.texts
    expected = [
        F.lareqa_candidate(c["sentence"], c["context"])
        for lang in ("ar", "de", "en", "th")
        for c in lareqa.read_candidates(f"{xtreme}/lareqa/xquad-r/{lang}.json")
    ]
    assert pool == expected and questions[0] == f"{qa_and_retrieval.PEOPLE[0]} อาศัยอยู่ที่ไหน"
