"""What TFDS's builders download, in the shapes they download it, with our own text.

The tensorflow/datasets repository feeds its builder tests from fake examples that
the pip package does not ship; these are ours, written from each builder's source:
the same URLs, archive types, folder layouts, file names, headers and formats.
`write_downloads(root)` writes every file and returns {url: local file}.

`served(downloads)` redirects TFDS's download manager to them the way TFDS's own
`DatasetBuilderTestCase` does (patching `DownloadManager.download` and
`download_and_extract` on the class), except that archives are unpacked by TFDS's
real extractor. A URL that is not served fails the test with its name.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from unittest import mock

from etils import epath

# ---- serving ---------------------------------------------------------------------------


def _map(fn, tree):
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_map(fn, v) for v in tree)
    return fn(tree)


@contextlib.contextmanager
def served(downloads: Mapping[str, str]) -> Iterator[list[str]]:
    """Within the block TFDS downloads from `downloads`; yields the URLs asked for."""
    asked: list[str] = []

    def local(url) -> epath.Path:
        url = str(getattr(url, "url", url))
        asked.append(url)
        assert url in downloads, f"the builder downloads {url}, which no fixture serves"
        return epath.Path(downloads[url])

    def download(self, url_or_urls):
        return _map(local, url_or_urls)

    def download_and_extract(self, url_or_urls):
        return self.extract(download(self, url_or_urls))

    with mock.patch.multiple(
        "tensorflow_datasets.core.download.DownloadManager",
        download=download,
        download_and_extract=download_and_extract,
        download_checksums=lambda self, url: None,
    ):
        yield asked


# ---- file shapes -----------------------------------------------------------------------


def _zip(path: str, members: Mapping[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)


def _tar(path: str, members: Mapping[str, str | bytes], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as t:
        for name, data in members.items():
            data = data.encode("utf-8") if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _targz_bytes(members: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _tsv(header: list[str], rows: list[dict]) -> str:
    lines = ["\t".join(header)] + ["\t".join(str(r.get(c, "")) for c in header) for r in rows]
    return "\n".join(lines) + "\n"


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _squad(articles: list[tuple[str, str, list[tuple[str, str, str]]]], version="1.1") -> str:
    """SQuAD JSON from (title, context, [(id, question, answer text)])."""
    data = []
    for title, context, qas in articles:
        questions = [
            dict(id=i, question=q, answers=[dict(text=a, answer_start=context.index(a))])
            for i, q, a in qas
        ]
        data.append(dict(title=title, paragraphs=[dict(context=context, qas=questions)]))
    return json.dumps(dict(version=version, data=data), ensure_ascii=False)


# Sentences per language, ours: (premise, hypothesis) for XNLI-like pairs.
PAIRS = {
    "en": ("The river is cold in spring.", "The water is cold."),
    "ar": ("النهر بارد في الربيع.", "الماء بارد."),
    "sw": ("Mto ni baridi wakati wa masika.", "Maji ni baridi."),
    "zh": ("春天河水很冷。", "水很冷。"),
    "de": ('Er sagte "kalt" am Fluss.', "Es ist kalt."),  # quotes, as csv.writer quotes them
}
XNLI_LANGS = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()
NLI_ROWS = [("entailment", 0), ("contradiction", 1), ("neutral", 2)]


def _xnli(root: str) -> dict[str, str]:
    header = (
        "language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse "
        "sentence2_parse sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 "
        "label5 sentence1_tokenized sentence2_tokenized match"
    ).split()
    members = {}
    for split in ("dev", "test"):
        rows = []
        for label, n in NLI_ROWS:
            for lang in XNLI_LANGS:
                premise, hypothesis = PAIRS.get(lang, (f"{lang} premise", f"{lang} hypothesis"))
                rows.append(
                    dict(
                        language=lang,
                        gold_label=label,
                        sentence1=f"{premise} {split}{n}",
                        sentence2=f"{hypothesis} {n}",
                        promptID=str(n),
                        pairID=f"{split}{n}",
                        genre="travel",
                        label1=label,
                        match="True",
                    )
                )
        members[f"XNLI-1.0/xnli.{split}.tsv"] = _tsv(header, rows)
    path = os.path.join(root, "XNLI-1.0.zip")
    _zip(path, members)
    return {"https://cims.nyu.edu/~sbowman/xnli/XNLI-1.0.zip": path}


def _glue(root: str) -> dict[str, str]:
    parses = "sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse"
    front = f"index promptID pairID genre {parses} sentence1 sentence2".split()

    def mnli(labels: int | None, prefix: str) -> str:
        label_columns = ["label1", "label2", "label3", "label4", "label5"][: labels or 0]
        header = front + ([*label_columns, "gold_label"] if labels else [])
        rows = [
            dict(
                index=n,
                pairID=f"{prefix}{n}",
                genre="fiction",
                sentence1=f'A "dog" runs in the {prefix} park {n}.',  # GLUE: no quoting
                sentence2=f"An animal {prefix} moves {n}.",
                label1=label,
                gold_label=label,
            )
            for label, n in NLI_ROWS
        ]
        return _tsv(header, rows)

    qqp_rows = [
        dict(id=n, qid1=2 * n, qid2=2 * n + 1, question1=f"How do I cook rice {n}?",
             question2=f"What is the way to cook rice {n}?", is_duplicate=n % 2)
        for n in range(4)
    ]  # fmt: skip
    sst_rows = [dict(index=n, sentence=f"a warm film {n}", label=n % 2) for n in range(4)]
    archives = {
        "MNLI": {
            "train.tsv": mnli(1, "tr"),
            "dev_matched.tsv": mnli(5, "dm"),
            "dev_mismatched.tsv": mnli(5, "dmm"),
            "test_matched.tsv": mnli(None, "tm"),
            "test_mismatched.tsv": mnli(None, "tmm"),
        },
        "QQP": {
            "train.tsv": _tsv("id qid1 qid2 question1 question2 is_duplicate".split(), qqp_rows),
            "dev.tsv": _tsv("id qid1 qid2 question1 question2 is_duplicate".split(), qqp_rows),
            "test.tsv": _tsv("id question1 question2".split(), qqp_rows),
        },
        "SST-2": {
            "train.tsv": _tsv(["sentence", "label"], sst_rows),
            "dev.tsv": _tsv(["sentence", "label"], sst_rows),
            "test.tsv": _tsv(["index", "sentence"], sst_rows),
        },
    }
    served = {}
    for name, files in archives.items():
        path = os.path.join(root, f"{name}.zip")
        _zip(path, {f"{name}/{f}": text for f, text in files.items()})
        served[f"https://dl.fbaipublicfiles.com/glue/data/{name}.zip"] = path
    return served


def _snli(root: str) -> dict[str, str]:
    header = (
        "gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse "
        "sentence2_parse sentence1 sentence2 captionID pairID label1 label2 label3 label4 label5"
    ).split()
    members = {}
    for split in ("train", "dev", "test"):
        rows = [
            dict(gold_label=label, sentence1=f"Two children play outside {n}.",
                 sentence2=f"Kids are {split} {n}.", captionID=f"c{n}", pairID=f"{split}{n}",
                 label1=label)
            for label, n in [*NLI_ROWS, ("-", 3)]  # "-": no annotator consensus
        ]  # fmt: skip
        members[f"snli_1.0/snli_1.0_{split}.txt"] = _tsv(header, rows)
    path = os.path.join(root, "snli_1.0.zip")
    _zip(path, members)
    return {"https://nlp.stanford.edu/projects/snli/snli_1.0.zip": path}


def _anli(root: str) -> dict[str, str]:
    members = {}
    for r in (1, 2, 3):
        for split in ("train", "dev", "test"):
            rows = [
                dict(uid=f"r{r}-{split}-{n}", context=f"The library opened in 19{r}{n}.",
                     hypothesis=f"The library is old {n}.", label=label[0],
                     model_label="n", emturk=False, genre="wiki", reason="")
                for label, n in NLI_ROWS
            ]  # fmt: skip
            members[f"anli_v0.1/R{r}/{split}.jsonl"] = _jsonl(rows)
    path = os.path.join(root, "anli_v0.1.zip")
    _zip(path, members)
    return {"https://dl.fbaipublicfiles.com/anli/anli_v0.1.zip": path}


SQUAD_CONTEXT = "Ada Lovelace wrote the first program in 1843 in London."


def _squad_files(root: str) -> dict[str, str]:
    served = {}
    url = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
    for split in ("train", "dev"):
        v1 = _squad(
            [
                ("Ada", SQUAD_CONTEXT, [(f"{split}1", "Who wrote it?", "Ada Lovelace"),
                                        (f"{split}2", "When?", "1843")]),
                ("City", "London is on the Thames.", [(f"{split}3", "Which river?", "Thames")]),
            ]
        )  # fmt: skip
        v2 = json.loads(v1)
        v2["version"] = "v2.0"
        for qa in v2["data"][0]["paragraphs"][0]["qas"]:
            qa["is_impossible"] = False
        v2["data"][1]["paragraphs"][0]["qas"] = [
            dict(id=f"{split}4", question="Which sea?", answers=[], is_impossible=True,
                 plausible_answers=[dict(text="Thames", answer_start=16)])
        ]  # fmt: skip
        for version, text in [("v1.1", v1), ("v2.0", json.dumps(v2))]:
            path = os.path.join(root, f"{split}-{version}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            served[f"{url}{split}-{version}.json"] = path
    return served


def _copa(root: str) -> dict[str, str]:
    members = {}
    for split in ("train", "val", "test"):
        rows = [
            dict(premise=f"The glass fell {n}.", choice1="It broke.", choice2="It sang.",
                 question="effect" if n % 2 else "cause", label=n % 2, idx=n)
            for n in range(4)
        ]  # fmt: skip
        if split == "test":
            rows = [{k: v for k, v in r.items() if k != "label"} for r in rows]
        members[f"COPA/{split}.jsonl"] = _jsonl(rows)
    path = os.path.join(root, "COPA.zip")
    _zip(path, members)
    return {"https://dl.fbaipublicfiles.com/glue/superglue/data/v2/COPA.zip": path}


def _hellaswag(root: str) -> dict[str, str]:
    served = {}
    url = "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/"
    for split in ("train", "val", "test"):
        rows = []
        for n in range(4):
            row = dict(ind=n, activity_label="Cooking", ctx_a=f"A man cuts bread {n}.",
                       ctx_b="he", ctx=f"A man cuts bread {n}. he", split=split,
                       split_type="indomain" if n % 2 else "zeroshot",
                       label=n % 4, endings=["eats it.", "sings.", "flies.", "reads."],
                       source_id=["activitynet~v_", "wikihow~"][n // 2] + str(n))  # fmt: skip
            if split == "test":
                del row["label"]
            rows.append(row)
        path = os.path.join(root, f"hellaswag_{split}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(_jsonl(rows))
        served[f"{url}hellaswag_{split}.jsonl"] = path
    return served


def _cosmosqa(root: str) -> dict[str, str]:
    served = {}
    url = "https://raw.githubusercontent.com/wilburOne/cosmosqa/master/data/"
    header = "id context question answer0 answer1 answer2 answer3 label".split()
    rows = [
        dict(id=f"q{n}", context=f"We missed the bus, so we walked, {n} km.",
             question="Why did they walk?", answer0="They missed the bus.", answer1="Rain.",
             answer2="A dog.", answer3="None of the above choices.", label=0)
        for n in range(3)
    ]  # fmt: skip
    for name in ("train.csv", "valid.csv"):
        path = os.path.join(root, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, header)
            writer.writeheader()
            writer.writerows(rows)
        served[url + name] = path
    path = os.path.join(root, "test.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(_jsonl([{k: v for k, v in r.items() if k != "label"} for r in rows]))
    served[url + "test.jsonl"] = path
    return served


# PAN-X: `lang:token<TAB>tag`, as in the WikiANN archives TFDS downloads.
PANX_SENTENCES = {
    "en": [[("Ada", "B-PER"), ("visited", "O"), ("Paris", "B-LOC")],
           [("Re:Zero", "B-ORG"), ("aired", "O")]],
    "ar": [[("زار", "O"), ("أحمد", "B-PER"), ("القاهرة", "B-LOC")]],
    "yo": [[("Ade", "B-PER"), ("lọ", "O"), ("sí", "O"), ("Èkó", "B-LOC")]],
}  # fmt: skip


def _panx(root: str) -> dict[str, str]:
    members = {}
    for lang, sentences in PANX_SENTENCES.items():
        text = "".join(
            "".join(f"{lang}:{token}\t{tag}\n" for token, tag in sentence) + "\n"
            for sentence in sentences
        )
        members[f"{lang}.tar.gz"] = _targz_bytes({"train": text, "dev": text, "test": text})
    path = os.path.join(root, "panx_dataset.tar")
    _tar(path, members, mode="w")
    return {"https://www.dropbox.com/s/12h3qqog6q4bjve/panx_dataset.tar?dl=1": path}


def _conllu(sentences: list[list[tuple[str, str]]]) -> str:
    out = []
    for n, sentence in enumerate(sentences):
        out.append(f"# sent_id = s{n}\n# text = {' '.join(t for t, _ in sentence)}\n")
        for i, (form, upos) in enumerate(sentence, 1):
            if "-" in form:  # a multiword token line, as UD writes contractions
                out.append(f"{form}\t{upos}\t_\t_\t_\t_\t_\t_\t_\t_\n")
                continue
            out.append(f"{i}\t{form}\t{form.lower()}\t{upos}\t_\t_\t0\troot\t_\t_\n")
        out.append("\n")
    return "".join(out)


UD_TREEBANKS = {  # folder: (file prefix, splits, sentences)
    "UD_English-EWT": ("en_ewt", ("train", "dev", "test"),
                       [[("Ada", "PROPN"), ("reads", "VERB"), (".", "PUNCT")]]),
    "UD_Arabic-PADT": ("ar_padt", ("train", "dev", "test"),
                       [[("قرأ", "VERB"), ("أحمد", "PROPN")]]),
    "UD_Arabic-NYUAD": ("ar_nyuad", ("train", "dev", "test"), [[("_", "NOUN"), ("_", "VERB")]]),
    "UD_Tamil-TTB": ("ta_ttb", ("train", "dev", "test"), [[("அவன்", "PRON"), ("வந்தான்", "VERB")]]),
    "UD_Tagalog-TRG": ("tl_trg", ("test",), [[("Kumain", "VERB"), ("siya", "PRON")]]),
    "UD_Yoruba-YTB": ("yo_ytb", ("test",), [[("Ó", "PRON"), ("lọ", "VERB")]]),
}  # fmt: skip


def _udpos(root: str) -> dict[str, str]:
    members = {}
    for folder, (prefix, splits, sentences) in UD_TREEBANKS.items():
        for split in splits:
            members[f"ud-treebanks-v2.5/{folder}/{prefix}-ud-{split}.conllu"] = _conllu(sentences)
        members[f"ud-treebanks-v2.5/{folder}/README.md"] = "# Summary\n"
    path = os.path.join(root, "ud-treebanks-v2.5.tgz")
    _tar(path, members)
    return {
        "https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-3105/"
        "ud-treebanks-v2.5.tgz": path
    }


QA = {  # language: (context, question, answer)
    "en": ("The bridge was built in 1890 by the city.", "When was the bridge built?", "1890"),
    "ar": ("بني الجسر عام 1890.", "متى بني الجسر؟", "1890"),
    "hi": ("पुल 1890 में बना था।", "पुल कब बना?", "1890"),
    "th": ("สะพานสร้างในปี 1890", "สะพานสร้างเมื่อไร", "1890"),
    "sw": ("Daraja lilijengwa mwaka 1890.", "Daraja lilijengwa lini?", "1890"),
}


def _qa_file(root: str, name: str, lang: str, prefix: str) -> str:
    context, question, answer = QA[lang]
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_squad([("Bridge", context, [(f"{prefix}-1", question, answer)])]))
    return path


def _xquad(root: str) -> dict[str, str]:
    served = {}
    for lang in ("en", "ar", "th"):
        url = f"https://github.com/deepmind/xquad/raw/master/xquad.{lang}.json"
        served[url] = _qa_file(root, f"xquad/xquad.{lang}.json", lang, f"xq{lang}")
        if lang == "en":
            continue
        xtreme = "https://storage.googleapis.com/xtreme_translations"
        for split in ("train", "dev"):
            url = f"{xtreme}/SQuAD/translate-{split}/squad.translate.{split}.en-{lang}.json"
            served[url] = _qa_file(root, f"xquad/tt-{split}-{lang}.json", lang, f"t{split}")
        url = f"{xtreme}/XQuAD/translate-test/xquad.translate.test.{lang}-en.json"
        served[url] = _qa_file(root, f"xquad/tt-test-{lang}.json", "en", "tt")
    return served


def _mlqa(root: str) -> dict[str, str]:
    members = {}
    for lang in ("en", "ar", "hi"):
        for split in ("dev", "test"):
            context, question, answer = QA[lang]
            members[f"MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json"] = _squad(
                [("Bridge", context, [(f"ml-{split}-{lang}", question, answer)])]
            )
    path = os.path.join(root, "MLQA_V1.zip")
    _zip(path, members)
    return {"https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip": path}


TYDIQA_NAMES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish",
                "id": "indonesian", "ko": "korean", "ru": "russian", "sw": "swahili",
                "te": "telugu"}  # fmt: skip


def _tydiqa(root: str) -> dict[str, str]:
    prefix = "https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-"
    texts = {lang: QA.get(lang, QA["en"]) for lang in TYDIQA_NAMES}

    def one(lang: str, n: int) -> tuple[str, str, list]:
        context, question, answer = texts[lang]
        return ("", context, [(f"{TYDIQA_NAMES[lang]}-{1000 + n}-{n}", question, answer)])

    langs = ("en", "ar", "sw")
    train = [one(lang, n) for lang in langs for n in range(2)]
    served = {}
    for name, articles in [("train.json", train), ("dev.json", train)]:
        path = os.path.join(root, "tydiqa", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(_squad(articles))
        served[prefix + name] = path
    path = os.path.join(root, "tydiqa", "dev.tgz")
    _tar(
        path,
        {
            f"tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json": _squad([one(lang, 7)])
            for lang, name in TYDIQA_NAMES.items()
        },
    )
    served[prefix + "dev.tgz"] = path
    fmt = "https://storage.googleapis.com/xtreme_translations/TyDiQA-GoldP/translate-train/"
    for lang in TYDIQA_NAMES:
        if lang != "en":
            served[f"{fmt}tydiqa.translate.train.en-{lang}.json"] = _qa_file(
                root, f"tydiqa/tt-{lang}.json", "en", f"tt{lang}"
            )
    return served


TATOEBA = {  # lang: (ISO 639-3, [(sentence, English)])
    "ar": ("ara", [("أنا أحب القهوة.", "I like coffee."), ("السماء زرقاء.", "The sky is blue.")]),
    "sw": ("swh", [("Ninapenda kahawa.", "I like coffee."), ("Anga ni bluu.", "The sky is blue.")]),
    "zh": ("cmn", [("我喜欢咖啡。", "I like coffee."), ("天是蓝的。", "The sky is blue.")]),
}


def _tatoeba(root: str) -> dict[str, str]:
    url = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1/"
    served = {}
    for iso3, pairs in TATOEBA.values():
        for side, column in ((iso3, 0), ("eng", 1)):
            name = f"tatoeba.{iso3}-eng.{side}"
            path = os.path.join(root, "tatoeba", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write("".join(pair[column] + "\n" for pair in pairs))
            served[url + name] = path
    return served


WRITERS = (_xnli, _glue, _snli, _anli, _squad_files, _copa, _hellaswag, _cosmosqa, _panx,
           _udpos, _xquad, _mlqa, _tydiqa, _tatoeba)  # fmt: skip


def write_downloads(root: str) -> dict[str, str]:
    """Writes every fixture download under `root`; returns {url: local file}."""
    os.makedirs(root, exist_ok=True)
    served: dict[str, str] = {}
    for write in WRITERS:
        served.update(write(root))
    return served
