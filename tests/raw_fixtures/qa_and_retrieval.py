"""Raw-data fixtures for the QA and retrieval targets: XQuAD, MLQA, TyDiQA-GoldP, SQuAD
v1.1, LAReQA and Mewsli-X, in the shapes of their own releases (`write_originals`) and
as XTREME's download script leaves them (`write_xtreme`).

`write_xtreme` writes the originals to a scratch folder and applies, one function each,
the transformations of XTREME's `scripts/download_data.sh` and `utils_preprocess.py`
(google-research/xtreme): QA test answers blanked (each question then its own paragraph,
titles dropped), TyDiQA's training file split by language with ids cut to their last
`-` field, its dev files renamed and blanked, Mewsli-X's WikiNews mentions split per
language into mentions and labels with the test entity ids blanked. Unlike the real
script (which expects every official language), only the languages written here are
processed. All text is ours.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import tempfile

# --- text -------------------------------------------------------------------------------

PEOPLE = ["Amara Okoye", "Lena Brandt", "Tariq Haddad", "Mira Solis", "Jonas Weber",
          "Sita Rao", "Kofi Mensah", "Nadia Farouk", "Ivo Petrov", "Lin Wei", "Rosa Ibarra",
          "Emil Strand"]  # fmt: skip
CITIES = ["Port Halden", "Velmora", "Kessel", "Ostrabay", "Lindmark", "Corvale", "Marisk",
          "Tallow Creek", "Brenholm", "Sundaro", "Aldwick", "Pelliston"]  # fmt: skip
# (sentence, question) per relation and language; {p} person, {c} city, {y} year.
TEMPLATES = {
    "en": (("{p} lives in {c}.", "Where does {p} live?"),
           ("{p} was born in {y}.", "When was {p} born?")),
    "de": (("{p} wohnt in {c}.", "Wo wohnt {p}?"),
           ("{p} wurde {y} geboren.", "Wann wurde {p} geboren?")),
    "ar": (("يعيش {p} في {c}.", "أين يعيش {p}؟"),
           ("ولد {p} عام {y}.", "متى ولد {p}؟")),
    "hi": (("{p} {c} में रहता है।", "{p} कहाँ रहता है?"),
           ("{p} का जन्म {y} में हुआ था।", "{p} का जन्म कब हुआ था?")),
    "th": (("{p} อาศัยอยู่ที่ {c}", "{p} อาศัยอยู่ที่ไหน"),
           ("{p} เกิดในปี {y}", "{p} เกิดปีไหน")),
    "vi": (("{p} sống ở {c}.", "{p} sống ở đâu?"),
           ("{p} sinh năm {y}.", "{p} sinh năm nào?")),
    "sw": (("{p} anaishi {c}.", "{p} anaishi wapi?"),
           ("{p} alizaliwa mwaka {y}.", "{p} alizaliwa lini?")),
    "te": (("{p} {c}లో నివసిస్తున్నారు.", "{p} ఎక్కడ నివసిస్తున్నారు?"),
           ("{p} {y}లో జన్మించారు.", "{p} ఎప్పుడు జన్మించారు?")),
}  # fmt: skip

XQUAD_LANGS = ("en", "de", "ar", "hi", "th")
MLQA_LANGS = ("en", "de", "ar", "hi", "vi")
TYDIQA_DEV_LANGS = ("en", "ar", "sw", "te")
TYDIQA_NAMES = {"en": "english", "ar": "arabic", "sw": "swahili", "te": "telugu"}
LAREQA_LANGS = ("en", "de", "ar", "th")
MEWSLIX_LANGS = ("en", "de", "ar", "ta", "uk")


def _paragraph(lang: str, people: list[int], year0: int = 1950) -> tuple[str, list, list]:
    """(context, sentence breaks, [(relation, person index, answer, answer start)])."""
    sentences, facts, offset = [], [], 0
    for k in people:
        for relation, (sentence, _) in enumerate(TEMPLATES[lang]):
            answer = CITIES[k] if relation == 0 else str(year0 + k)
            text = sentence.format(p=PEOPLE[k], c=CITIES[k], y=year0 + k)
            start = offset + text.index(answer)
            sentences.append((offset, offset + len(text)))
            facts.append((relation, k, answer, start))
            offset += len(text) + 1
    context = " ".join(
        TEMPLATES[lang][r][0].format(p=PEOPLE[k], c=CITIES[k], y=year0 + k) for r, k, _, _ in facts
    )
    return context, [list(s) for s in sentences], facts


def _squad(lang: str, paragraphs: list[list[int]], qid, breaks: bool = False) -> dict:
    """A SQuAD v1.1 document: one article per paragraph, one question per fact."""
    articles = []
    for n, people in enumerate(paragraphs):
        context, spans, facts = _paragraph(lang, people)
        qas = [
            dict(
                id=qid(n, i),
                question=TEMPLATES[lang][relation][1].format(p=PEOPLE[k]),
                answers=[dict(text=answer, answer_start=start)],
            )
            for i, (relation, k, answer, start) in enumerate(facts)
        ]
        paragraph = dict(context=context, qas=qas)
        if breaks:  # LAReQA's XQuAD-R adds the sentence annotations
            paragraph |= dict(sentence_breaks=spans, sentences=[context[s:e] for s, e in spans])
        articles.append(dict(title=f"Article {n}", paragraphs=[paragraph]))
    return dict(version="1.1", data=articles)


# --- Mewsli-X ---------------------------------------------------------------------------

ENTITIES = [  # (title, two description sentences; the second is left unannotated)
    ("Velmora", "Velmora is a small coastal country.", "Its capital is Port Halden."),
    ("Port Halden", "Port Halden is the largest\nport of Velmora.", "It has a naval museum."),
    ("Amara Okoye", "Amara Okoye is a Velmorian politician.", "She was born in 1950."),
    ("Kessel River", "The Kessel River flows into the Northern Sea.", "It is 210 km long."),
    ("Lindmark University", "Lindmark University is a public university.", "It has six faculties."),
    ("Tariq Haddad", "Tariq Haddad is a painter of harbour scenes.", "He lives in Kessel."),
]  # fmt: skip
NEWS = {  # (sentence before, sentence with the mention {m}) per language
    "en": ("Heavy rain fell on Monday.", "Officials in {m} closed the roads."),
    "de": ("Am Montag regnete es stark.", "Die Behörden in {m} sperrten die Straßen."),
    "ar": ("هطلت أمطار غزيرة يوم الاثنين.", "أغلقت السلطات في {m} الطرق."),
    "ta": ("திங்கள்கிழமை கனமழை பெய்தது.", "{m} அதிகாரிகள் சாலைகளை மூடினர்."),
    "uk": ("У понеділок пройшла сильна злива.", "Влада {m} закрила дороги."),
}


def _entity(i: int) -> dict:
    title, first, second = ENTITIES[i]
    return dict(
        entity_id=f"Q{9100 + i}",
        title=title,
        description=f"{first} {second}",
        sentence_spans=[dict(start=0, end=len(first))],
        description_language="en",
        description_url=f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
    )


def _context(lang: str, before: str, sentence: str, doc: str) -> tuple[dict, int]:
    """A Mewsli-X context of two annotated sentences; returns it and the second's start."""
    text = f"{before} {sentence}"
    start = len(before) + 1
    spans = [dict(start=0, end=len(before)), dict(start=start, end=len(text))]
    context = dict(document_title=f"News {doc}", document_url=f"https://{lang}.wikinews.org/{doc}",
                   document_id=doc, language=lang, text=text, sentence_spans=spans)  # fmt: skip
    return context, start


def _mention(example_id: str, text: str, start: int, surface: str, entity: int) -> dict:
    return dict(
        example_id=example_id,
        mention_span=dict(start=start, end=start + len(surface), text=surface),
        entity_id=f"Q{9100 + entity}",
    )


def _wikinews(split: str) -> list[dict]:
    records = []
    for n, lang in enumerate(MEWSLIX_LANGS):
        for j, entity in enumerate((n % 3, 3 + n % 3)):
            before, template = NEWS[lang]
            surface = ENTITIES[entity][0]
            sentence = template.format(m=surface)
            doc = f"{split}-{lang}-{j}"
            context, offset = _context(lang, before, sentence, doc)
            start = offset + sentence.index(surface)
            mention = _mention(f"wn-{doc}", context["text"], start, surface, entity)
            records.append(dict(context=context, mentions=[mention]))
    return records


def _wikipedia_pairs(split: str, count: int) -> list[dict]:
    pairs = []
    for n in range(count):
        entity = n % len(ENTITIES)
        surface = ENTITIES[entity][0]
        before = f"This is paragraph {n} of an article."
        sentence = f"Later it was linked to {surface} by its {{editors}}."
        context, offset = _context("en", before, sentence, f"Q{8000 + n}")
        start = offset + sentence.index(surface)
        mention = _mention(f"wp-{split}-{n}", context["text"], start, surface, entity)
        pairs.append(dict(contextual_mention=dict(context=context, mention=mention),
                          entity=_entity(entity)))  # fmt: skip
    return pairs


# --- writing ----------------------------------------------------------------------------


def _write_json(root: str, rel: str, data) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)


def _write_jsonl(root: str, rel: str, records) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _read_json(root: str, rel: str):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return json.load(f)


def write_originals(root: str) -> None:
    """The releases: SQuAD v1.1, deepmind's XQuAD (as its GitHub archive unpacks,
    `xquad-master/`), MLQA_V1.zip unpacked at the root, TyDiQA-GoldP v1.1 (downloaded
    into `tydiqa/`), LAReQA's `xquad-r/`, and Mewsli-X's dataset files in `mewslix/`."""
    people = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    _write_json(root, "squad/train-v1.1.json", _squad("en", people, lambda n, i: f"sq-{n}-{i}"))
    _write_json(root, "squad/dev-v1.1.json", _squad("en", [[10, 11]], lambda n, i: f"sqd-{n}-{i}"))
    for lang in XQUAD_LANGS:  # parallel: the same ids in every language
        data = _squad(lang, [[0, 1], [2]], lambda n, i: f"xq-{n}-{i}")
        _write_json(root, f"xquad-master/xquad.{lang}.json", data)
    for split, groups in (("dev", [[3, 4]]), ("test", [[5, 6], [7]])):
        for lang in MLQA_LANGS:
            data = _squad(lang, groups, lambda n, i, s=split: f"ml{s}{n:02d}{i:02d}")
            _write_json(root, f"MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json", data)
    # TyDiQA-GoldP: one training file of every language, ids `{language}-{hash}-{n}`
    # (hashes may be negative: `english--12-0`); the last field repeats across paragraphs.
    train = {"en": _squad("en", people, lambda n, i: f"english-{(-1) ** n * (70 + n)}-{i}")}
    for lang in ("ar", "sw"):
        name = TYDIQA_NAMES[lang]
        train[lang] = _squad(lang, [[1, 2]], lambda n, i, name=name: f"{name}-{500 + n}-{i}")
    merged = [article for data in train.values() for article in data["data"]]
    _write_json(root, "tydiqa/tydiqa-goldp-v1.1-train.json", dict(version="TyDiQA-GoldP-1.1-train", data=merged))  # fmt: skip
    for lang in TYDIQA_DEV_LANGS:
        name = TYDIQA_NAMES[lang]
        data = _squad(lang, [[8, 9]], lambda n, i, name=name: f"{name}-{900 + n}-{i}")
        _write_json(root, f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json", data)
    for lang in LAREQA_LANGS:
        data = _squad(lang, [[0, 1], [2, 3]], lambda n, i: f"lq-{n}-{i}", breaks=True)
        _write_json(root, f"lareqa/xquad-r/{lang}.json", data)
    _write_jsonl(root, "mewslix/candidate_set_entities.jsonl", [_entity(i) for i in range(len(ENTITIES))])  # fmt: skip
    _write_jsonl(root, "mewslix/wikipedia_pairs-train.jsonl", _wikipedia_pairs("train", 10))
    _write_jsonl(root, "mewslix/wikipedia_pairs-dev.jsonl", _wikipedia_pairs("dev", 3))
    for split in ("dev", "test"):
        _write_jsonl(root, f"mewslix/wikinews_mentions-{split}.jsonl", _wikinews(split))


# --- XTREME's transformations -------------------------------------------------------------


def blank_qa_answers(data: dict) -> dict:
    """`remove_qa_test_annotations`: each question its own paragraph, answers blanked."""
    blanked = []
    for doc in data["data"]:
        for paragraph in doc["paragraphs"]:
            for qa in paragraph["qas"]:
                qa = dict(answers=[dict(answer_start=0, text="")], question=qa["question"], id=qa["id"])  # fmt: skip
                blanked.append(dict(paragraphs=[dict(context=paragraph["context"], qas=[qa])]))
    return dict(data=blanked, version=data["version"])


def split_tydiqa_train(data: dict) -> dict[str, dict]:
    """`tydiqa_preprocess`: per-language documents, ids cut to their last `-` field."""
    iso = {name: lang for lang, name in TYDIQA_NAMES.items()}
    by_lang = collections.defaultdict(list)
    for doc in data["data"]:
        for paragraph in doc["paragraphs"]:
            for qa in paragraph["qas"]:
                lang = iso[qa["id"].split("-")[0]]
                qa = dict(answers=qa["answers"], question=qa["question"], id=qa["id"].split("-")[-1])  # fmt: skip
                by_lang[lang].append(dict(paragraphs=[dict(context=paragraph["context"], qas=[qa])]))  # fmt: skip
    return {lang: dict(data=docs, version=data["version"]) for lang, docs in by_lang.items()}


def split_mewslix_mentions(records: list[dict], blank: bool) -> tuple[dict, dict]:
    """`mewslix_preprocess`: ({lang: nested records}, {lang: {example_id: [entity_id]}}),
    entity ids set to "" first when `blank` (the test split)."""
    inputs, labels = collections.defaultdict(list), collections.defaultdict(dict)
    for record in records:
        lang = record["context"]["language"]
        mentions = []
        for mention in record["mentions"]:
            mention = dict(mention, entity_id="") if blank else mention
            labels[lang][mention["example_id"]] = [mention["entity_id"]]
            mentions.append(mention)
        inputs[lang].append(dict(context=record["context"], mentions=mentions))
    return inputs, labels


def write_xtreme(root: str) -> None:
    """What XTREME's download script leaves for these tasks (from `write_originals`)."""
    with tempfile.TemporaryDirectory() as scratch:
        write_originals(scratch)
        shutil.copytree(os.path.join(scratch, "squad"), os.path.join(root, "squad"))
        for lang in XQUAD_LANGS:
            data = _read_json(scratch, f"xquad-master/xquad.{lang}.json")
            _write_json(root, f"xquad/xquad.{lang}.json", blank_qa_answers(data))
        for lang in MLQA_LANGS:
            for split in ("dev", "test"):
                name = f"MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json"
                data = _read_json(scratch, name)
                _write_json(root, f"mlqa/{name}", blank_qa_answers(data) if split == "test" else data)  # fmt: skip
        original = _read_json(scratch, "tydiqa/tydiqa-goldp-v1.1-train.json")
        train_dir = "tydiqa/tydiqa-goldp-v1.1-train"
        for lang, data in split_tydiqa_train(original).items():
            _write_json(root, f"{train_dir}/tydiqa.goldp.{lang}.train.json", data)
        _write_json(root, f"{train_dir}/tydiqa-goldp-v1.1-train.json", original)  # moved there
        for lang in TYDIQA_DEV_LANGS:
            data = _read_json(scratch, f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{TYDIQA_NAMES[lang]}.json")  # fmt: skip
            _write_json(root, f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json", blank_qa_answers(data))  # fmt: skip
        shutil.copytree(os.path.join(scratch, "lareqa"), os.path.join(root, "lareqa"))
        os.makedirs(os.path.join(root, "mewslix"), exist_ok=True)
        for name in ("candidate_set_entities", "wikipedia_pairs-train", "wikipedia_pairs-dev"):
            shutil.copy(os.path.join(scratch, f"mewslix/{name}.jsonl"), os.path.join(root, "mewslix"))  # fmt: skip
        for split in ("dev", "test"):
            with open(os.path.join(scratch, f"mewslix/wikinews_mentions-{split}.jsonl"), encoding="utf-8") as f:  # fmt: skip
                records = [json.loads(line) for line in f]
            inputs, labels = split_mewslix_mentions(records, blank=split == "test")
            for lang in inputs:
                _write_jsonl(root, f"mewslix/wikinews_mentions/{split}-{lang}.jsonl", inputs[lang])
                _write_json(root, f"mewslix/wikinews_labels/{split}-{lang}.json", labels[lang])
