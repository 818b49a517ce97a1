"""XNLI, PAN-X, UD-POS and Tatoeba raw folders, written here with our own sentences.

`write_originals(root)` lays out the releases as they ship: XNLI 1.0 and XNLI-MT 1.0's
MultiNLI file, WikiANN's per-language files (tokens prefixed `{lang}:`), a UD v2.7
release folder (several treebanks per language, multiword tokens, a treebank without
its text, empty nodes) and LASER's Tatoeba v1 pairs.

`write_xtreme(root)` writes what XTREME's `scripts/download_data.sh` leaves: it writes
the originals to a scratch folder and applies the script's transformations to them
(`utils_preprocess.py` and ud-conversion-tools, re-done here step by step): per-language
XNLI files written by `csv.writer` without test labels, the `lang:` prefix cut up to
the first colon, UD treebanks converted and merged per language and split, untagged
test files, Tatoeba's English side sorted.

Languages: English, German, Arabic, Swahili (XNLI, PAN-X; Tatoeba: German, Arabic,
Swahili); English, Spanish, Hindi, Wolof, Vietnamese (UD-POS).
"""

from __future__ import annotations

import collections
import csv
import os
import shutil
import tempfile

# --- XNLI ------------------------------------------------------------------------------

XNLI_MT_TRAIN = "xnli/XNLI-MT-1.0/multinli/multinli.train.en.tsv"
XNLI_RELEASE = "xnli/XNLI-1.0/xnli.{split}.tsv"
XNLI_COLUMNS = (
    "language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse "
    "sentence2_parse sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 "
    "label5 sentence1_tokenized sentence2_tokenized match"
).split()

MULTINLI_TRAIN = [
    ("The bakery opens at six every morning.", "The bakery opens early.", "entailment"),
    ("The bakery opens at six every morning.", "The bakery is closed in the morning.",
     "contradictory"),
    ("The bakery opens at six every morning.", "The bakery sells cakes.", "neutral"),
    ('She said "good night" and closed the door.', "She spoke before closing the door.",
     "entailment"),
    ("Two boys are playing football in the rain.", "The boys are indoors.", "contradictory"),
    ("Two boys are playing football in the rain.", "The boys are getting wet.", "entailment"),
    ("The museum is free on Sundays.", "Many people visit on Sundays.", "neutral"),
    ("The museum is free on Sundays.", "Tickets are needed on Sundays.", "contradictory"),
    ("A woman is reading a map at the station.", "A woman is looking for a route.", "neutral"),
]  # fmt: skip

XNLI_PAIRS = {
    "en": [
        ('He said "hi" to the driver.', "He greeted the driver.", "entailment"),
        ("The river froze in January.", "The river was warm in January.", "contradiction"),
        ("The shop sells old books.", "The shop is in the city centre.", "neutral"),
        ("Our train left at noon.", "The train departed at midday.", "entailment"),
    ],
    "de": [
        ("Der Hund schläft im Garten.", "Ein Tier schläft draußen.", "entailment"),
        ("Die Schule beginnt um acht Uhr.", "Die Schule beginnt am Abend.", "contradiction"),
        ("Anna kauft Brot beim Bäcker.", "Anna hat Hunger.", "neutral"),
        ('Er rief "Halt!" und lief los.', "Er blieb still stehen.", "contradiction"),
    ],
    "ar": [
        ("ذهب الولد إلى المدرسة صباحا.", "الولد في طريقه إلى المدرسة.", "entailment"),
        ("المطعم مغلق يوم الجمعة.", "المطعم مفتوح يوم الجمعة.", "contradiction"),
        ("اشترت سارة كتابا جديدا.", "سارة تحب القراءة.", "neutral"),
        ("السماء تمطر في المدينة.", "الجو ممطر في المدينة.", "entailment"),
    ],
    "sw": [
        ("Mtoto anacheza mpira uwanjani.", "Mtoto yuko nje.", "entailment"),
        ("Duka linafunguliwa saa mbili asubuhi.", "Duka halifunguliwi asubuhi.",
         "contradiction"),
        ("Juma anapika chakula cha jioni.", "Juma ana wageni leo.", "neutral"),
        ("Mvua ilinyesha usiku mzima.", "Usiku ulikuwa mkavu.", "contradiction"),
    ],
}  # fmt: skip
XNLI_ROWS = {"dev": (0, 1, 2), "test": (1, 2, 3)}  # which pairs each release file holds

# --- PAN-X (WikiANN) ---------------------------------------------------------------------

PER, ORG, LOC = ("B-PER", "I-PER"), ("B-ORG", "I-ORG"), ("B-LOC", "I-LOC")


def _ner(*chunks) -> list[tuple[str, str]]:
    """Sentence from chunks: a plain word (tag O) or (words, (B, I)) for an entity."""
    out = []
    for chunk in chunks:
        if isinstance(chunk, str):
            out.append((chunk, "O"))
        else:
            words, (begin, inside) = chunk
            out += [(w, begin if i == 0 else inside) for i, w in enumerate(words.split())]
    return out


PANX = {
    "en": {
        "train": [
            _ner(("Maria Lopez", PER), "moved", "to", ("Lisbon", LOC), "."),
            _ner(("Re:Zero", ORG), "is", "a", "novel", "series", "."),
            _ner("The", ("Northern Rail Company", ORG), "runs", "trains", "."),
            _ner(("Kenji", PER), "lives", "in", ("Osaka", LOC), "."),
            _ner(("Lake Victoria", LOC), "borders", ("Uganda", LOC), "."),
            _ner(("Omar Haddad", PER), "joined", ("Blue Harbor Films", ORG), "."),
            _ner("She", "studied", "in", ("Vienna", LOC), "."),
            _ner(("City Library", ORG), "opened", "in", "1901", "."),
        ],
        "dev": [
            _ner(("Paulo", PER), "visited", ("Cape Town", LOC), "."),
            _ner(("Green Valley School", ORG), "won", "."),
        ],
        "test": [
            _ner(("Ana Silva", PER), "works", "for", ("Re:Vision Labs", ORG), "."),
            _ner("It", "rained", "in", ("Nairobi", LOC), "."),
        ],
    },
    "de": {
        "dev": [
            _ner(("Lena Hofbauer", PER), "wohnt", "in", ("Graz", LOC), "."),
            _ner("Die", ("Stadtwerke Linz", ORG), "bauen", "."),
        ],
        "test": [
            _ner(("Jonas", PER), "fährt", "nach", ("Bremen", LOC), "."),
            _ner("Der", ("FC Nordstern", ORG), "gewann", "."),
        ],
    },
    "ar": {
        "dev": [
            _ner(("أحمد", PER), "يسكن", "في", ("القاهرة", LOC), "."),
            _ner(("جامعة بغداد", ORG), "كبيرة", "."),
        ],
        "test": [
            _ner(("ليلى", PER), "زارت", ("بيروت", LOC), "."),
            _ner("افتتح", ("بنك الشرق", ORG), "فرعا", "."),
        ],
    },
    "sw": {
        "dev": [
            _ner(("Amina Juma", PER), "alizaliwa", ("Mombasa", LOC), "."),
            _ner(("Benki ya Pwani", ORG), "imefunguliwa", "."),
        ],
        "test": [
            _ner(("Baraka", PER), "anaishi", ("Arusha", LOC), "."),
            _ner("Timu", "ya", ("Simba", ORG), "ilishinda", "."),
        ],
    },
}

# --- UD-POS ------------------------------------------------------------------------------

UD_RELEASE = "udpos/ud-treebanks-v2.7"
UDPOS_LANGUAGES = set(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur "
    "vi yo zh lt pl uk wo ro".split()
)
# ud-conversion-tools' head preferences inside a multiword token.
UD_PREFERENCE = {
    "default": "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT",
    "es": "VERB AUX PRON ADP DET",
}


def _s(text: str, fused=(), extra=()) -> dict:
    """A CoNLL-U sentence from `form/UPOS/head` words; `fused` = (first, last, form)
    multiword tokens; `extra` = raw lines appended (empty nodes)."""
    words = [w.rsplit("/", 2) for w in text.split(" ")]
    return dict(words=[(f, u, int(h)) for f, u, h in words], fused=list(fused), extra=list(extra))


# Treebank file -> sentences. Forms never contain "/", so a form with a space is "~".
UD_FILES = {
    "UD_English-ESL/en_esl-ud-train.conllu": [  # distributed without its text
        _s("_/PRON/2 _/VERB/0 _/PUNCT/2"),
        _s("_/DET/2 _/NOUN/0"),
    ],
    "UD_English-EWT/en_ewt-ud-train.conllu": [
        _s("We/PRON/2 walked/VERB/0 home/ADV/2 ./PUNCT/2"),
        _s("The/DET/2 cat/NOUN/3 sleeps/VERB/0 ./PUNCT/3"),
        _s("I/PRON/3 ca/AUX/3 n't/PART/3 come/VERB/0"),
        _s("Tom/PROPN/2 reads/VERB/0 books/NOUN/2 ./PUNCT/2"),
        _s("_/X/2 _/X/0 _/X/2 !/PUNCT/2"),  # all forms but one missing: dropped
    ],
    "UD_English-EWT/en_ewt-ud-dev.conllu": [
        _s("She/PRON/2 sings/VERB/0 ./PUNCT/2"),
        _s("Birds/NOUN/2 fly/VERB/0 south/ADV/2 ./PUNCT/2"),
    ],
    "UD_English-EWT/en_ewt-ud-test.conllu": [
        _s("It/PRON/2 works/VERB/0 ./PUNCT/2"),
        _s("Dogs/NOUN/2 bark/VERB/0 loudly/ADV/2 ./PUNCT/2"),
    ],
    "UD_English-GUM/en_gum-ud-train.conllu": [
        _s("Rain/NOUN/2 fell/VERB/0 ./PUNCT/2"),
        _s("The/DET/2 bus/NOUN/3 stopped/VERB/0 here/ADV/3 ./PUNCT/3"),
        _s("You/PRON/2 won/VERB/0 ./PUNCT/2"),
        _s("Children/NOUN/2 laugh/VERB/0 ./PUNCT/2"),
        _s("A/DET/2 _/NOUN/3 arrived/VERB/0 ./PUNCT/3"),  # one form missing: kept
    ],
    "UD_English-GUM/en_gum-ud-test.conllu": [
        _s("Snow/NOUN/2 melts/VERB/0 ./PUNCT/2",
           extra=["2.1\tmelts\tmelt\tVERB\t_\t_\t_\t_\t0:root\t_"]),  # empty node
    ],
    "UD_Spanish-AnCora/es_ancora-ud-dev.conllu": [
        # "del" = de (ADP) + el (DET), equally high: Spanish prefers ADP.
        _s("Salió/VERB/0 de/ADP/4 el/DET/4 parque/NOUN/1 ./PUNCT/1", fused=[(2, 3, "del")]),
        _s("Ana/PROPN/2 canta/VERB/0 ./PUNCT/2"),
    ],
    "UD_Spanish-AnCora/es_ancora-ud-test.conllu": [
        # "dámelo" = da (VERB, the head) + me + lo (its dependents): VERB.
        _s("da/VERB/0 me/PRON/1 lo/PRON/1 ya/ADV/1 ./PUNCT/1", fused=[(1, 3, "Dámelo")]),
        _s("Voy/VERB/0 a/ADP/4 el/DET/4 mercado/NOUN/1 ./PUNCT/1", fused=[(2, 3, "al")]),
    ],
    "UD_Hindi-HDTB/hi_hdtb-ud-dev.conllu": [
        _s("राम/PROPN/3 घर/NOUN/3 गया/VERB/0 ।/PUNCT/3"),
        _s("वह/PRON/3 किताब/NOUN/3 पढ़ती/VERB/0 है/AUX/3 ।/PUNCT/3"),
    ],
    "UD_Hindi-HDTB/hi_hdtb-ud-test.conllu": [
        _s("बच्चे/NOUN/2 खेलते/VERB/0 हैं/AUX/2 ।/PUNCT/2"),
        _s("सीता/PROPN/3 स्कूल/NOUN/3 जा\u200cरही/VERB/0 ।/PUNCT/3"),  # a zero-width non-joiner
    ],
    "UD_Wolof-WTB/wo_wtb-ud-dev.conllu": [
        _s("Maa/PRON/2 dem/VERB/0 marse/NOUN/2 ./PUNCT/2"),
        _s("Awa/PROPN/2 lekk/VERB/0 ./PUNCT/2"),
    ],
    "UD_Wolof-WTB/wo_wtb-ud-test.conllu": [
        _s("Xale/NOUN/2 yi/DET/1 ñëw/VERB/0 ./PUNCT/3"),
        _s("Moodu/PROPN/2 jàng/VERB/0 téere/NOUN/2 ./PUNCT/2"),
    ],
    "UD_Vietnamese-VTB/vi_vtb-ud-test.conllu": [
        _s("Tôi/PRON/2 sống/VERB/0 ở/ADP/4 Hà~Nội/PROPN/2 ./PUNCT/2"),  # a form with a space
        _s("Trời/NOUN/2 mưa/VERB/0 ./PUNCT/2"),
    ],
    "UD_Gothic-PROIEL/got_proiel-ud-test.conllu": [  # not a UD-POS language: left out
        _s("jah/CCONJ/2 qaþ/VERB/0"),
    ],
}  # fmt: skip

# --- Tatoeba -----------------------------------------------------------------------------

TATOEBA_ISO3 = {"de": "deu", "ar": "ara", "sw": "swh"}
TATOEBA = {
    "de": [
        ("Ich habe Hunger.", "I am hungry."),
        ("Wo ist der Bahnhof?", "Where is the station?"),
        ("Das Wasser ist kalt.", "The water is cold."),
        ("Guten Morgen!", "Good morning!"),
        ("Ich bin müde.", "I am tired."),
    ],
    "ar": [
        ("أنا جائع.", "I am hungry."),
        ("أين المحطة؟", "Where is the station?"),
        ("صباح الخير!", "Good morning!"),
        ("الباب مفتوح.", "The door is open."),
    ],
    "sw": [
        ("Nina njaa.", "I am hungry."),
        ("Habari za asubuhi!", "Good morning!"),
        ("Maji ni baridi.", "The water is cold."),
        ("Mlango uko wazi.", "The door is open."),
        ("Mlango uko wazi!", "The door is open."),  # two sentences, one English line
    ],
}


# --- the originals ------------------------------------------------------------------------


def _write(root: str, rel: str, text: str) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _xnli_release_row(lang: str, number: int, premise: str, hypothesis: str, label: str):
    parse = lambda s: "( " + " ".join(s.split()) + " )"  # noqa: E731
    values = dict(
        language=lang, gold_label=label, sentence1=premise, sentence2=hypothesis,
        sentence1_binary_parse=parse(premise), sentence2_binary_parse=parse(hypothesis),
        sentence1_parse=f"(ROOT {parse(premise)})", sentence2_parse=f"(ROOT {parse(hypothesis)})",
        promptID=str(100 + number), pairID=str(1000 + number), genre="fiction",
        label1=label, label2=label, label3=label, label4=label, label5=label,
        sentence1_tokenized=" ".join(premise.split()),
        sentence2_tokenized=" ".join(hypothesis.split()), match="True",
    )  # fmt: skip
    return "\t".join(values[c] for c in XNLI_COLUMNS)


def _conllu(sentences: list[dict], sent_prefix: str) -> str:
    lines = []
    for n, sentence in enumerate(sentences, 1):
        words = sentence["words"]
        lines += [f"# sent_id = {sent_prefix}-{n}", f"# text = {' '.join(f for f, _, _ in words)}"]
        starts = {first: (last, form) for first, last, form in sentence["fused"]}
        for i, (form, upos, head) in enumerate(words, 1):
            if i in starts:
                last, fused = starts[i]
                lines.append(f"{i}-{last}\t{fused}\t_\t_\t_\t_\t_\t_\t_\t_")
            deprel = "root" if head == 0 else "dep"
            lemma = form.replace("~", " ").lower()
            lines.append(
                f"{i}\t{form.replace('~', ' ')}\t{lemma}\t{upos}\t_\t_\t{head}\t{deprel}"
                f"\t{head}:{deprel}\t_"
            )
        lines += sentence["extra"]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_originals(root: str) -> None:
    """The releases' files and shapes (our text) under `root`."""
    _write(root, XNLI_MT_TRAIN, "premise\thypo\tlabel\n"
           + "".join(f"{p}\t{h}\t{lab}\n" for p, h, lab in MULTINLI_TRAIN))  # fmt: skip
    for split, picked in XNLI_ROWS.items():
        rows = [
            _xnli_release_row(lang, n, *pairs[i])
            for lang, pairs in XNLI_PAIRS.items()
            for n, i in enumerate(picked)
        ]
        _write(root, XNLI_RELEASE.format(split=split), "\n".join(["\t".join(XNLI_COLUMNS), *rows]) + "\n")  # fmt: skip
    for lang, splits in PANX.items():
        for split, sentences in splits.items():
            text = "".join(
                "".join(f"{lang}:{token}\t{tag}\n" for token, tag in sentence) + "\n"
                for sentence in sentences
            )
            _write(root, f"panx/{lang}/{split}", text)
    for rel, sentences in UD_FILES.items():
        _write(root, f"{UD_RELEASE}/{rel}", _conllu(sentences, os.path.basename(rel)))
    for lang, pairs in TATOEBA.items():
        stem = f"tatoeba/tatoeba.{TATOEBA_ISO3[lang]}-eng"
        _write(root, f"{stem}.{TATOEBA_ISO3[lang]}", "".join(f"{s}\n" for s, _ in pairs))
        _write(root, f"{stem}.eng", "".join(f"{e}\n" for _, e in pairs))


# --- XTREME's transformations ---------------------------------------------------------------


def _csv_rows(path: str, rows: list[list[str]]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")  # as utils_preprocess.py: minimal quoting
        writer.writerows(rows)


def _xnli(src: str, out: str) -> None:
    def label(value):
        return "contradiction" if value.strip() == "contradictory" else value.strip()

    with open(os.path.join(src, XNLI_MT_TRAIN), encoding="utf-8") as f:
        items = [line.strip().split("\t") for line in list(f)[1:]]
    _csv_rows(
        f"{out}/xnli/train-en.tsv", [[i[0].strip(), i[1].strip(), label(i[2])] for i in items]
    )
    for split in ("test", "dev"):
        by_lang = collections.defaultdict(list)
        with open(os.path.join(src, XNLI_RELEASE.format(split=split)), encoding="utf-8") as f:
            for line in list(f)[1:]:
                i = line.strip().split("\t")
                by_lang[i[0].strip()].append([i[6].strip(), i[7].strip(), label(i[1])])
        for lang, rows in by_lang.items():
            rows = [r[:2] for r in rows] if split == "test" else rows  # test labels dropped
            _csv_rows(f"{out}/xnli/{split}-{lang}.tsv", rows)


def _panx(src: str, out: str) -> None:
    for lang, splits in PANX.items():
        for split in splits:
            with open(os.path.join(src, f"panx/{lang}/{split}"), encoding="utf-8") as f:
                lines = f.readlines()
            if lines[-1].strip() == "":
                lines = lines[:-1]
            text = []
            for line in lines:
                items = line.strip().split("\t")
                if len(items) != 2:
                    text.append("\n")
                elif ":" in items[0]:  # cut up to the first colon; no colon: token dropped
                    token = items[0][items[0].find(":") + 1 :].strip()
                    text.append(f"{token}\n" if split == "test" else f"{token}\t{items[1]}\n")
            _write(out, f"panx/{split}-{lang}.tsv", "".join(text))


def _ud_sentence(sentence: dict, lang: str) -> tuple[list[str], list[str]] | None:
    """One sentence as conllu_to_conll.py --replace_subtokens_with_fused_forms and
    utils_preprocess.py leave it, or None where it is dropped."""
    words = sentence["words"]
    preference = UD_PREFERENCE.get(lang, UD_PREFERENCE["default"]).split()

    def depth(i):  # ancestors on the way to the root (these sentences are trees)
        return 0 if i == 0 else 1 + depth(words[i - 1][2])

    carrier, removed = {}, set()
    for first, last, form in sentence["fused"]:
        span = range(first, last + 1)
        top = [i for i in span if depth(i) == min(depth(j) for j in span)]
        head = min(top, key=lambda i: preference.index(words[i - 1][1]))
        carrier[head] = form
        removed |= set(span) - {head}
    kept = [
        (carrier.get(i, form.replace("~", " ")), upos)
        for i, (form, upos, _) in enumerate(words, 1)
        if i not in removed
    ]
    forms = [f for f, _ in kept]
    missing = forms.count("_")
    if missing and missing >= len(forms) - 1:
        return None
    return ["".join(f.replace("\u200c", "").split(" ")) for f in forms], [u for _, u in kept]


def _udpos(out: str) -> None:
    merged = collections.defaultdict(lambda: collections.defaultdict(list))
    for rel in sorted(UD_FILES, key=os.path.basename):
        name = os.path.basename(rel)
        lang = name.split("_")[0]
        if lang not in UDPOS_LANGUAGES:
            continue
        split = next(s for s in ("train", "dev", "test") if s in name)
        for sentence in UD_FILES[rel]:
            converted = _ud_sentence(sentence, lang)
            if converted:
                merged[lang][split].append(converted)
    for lang, splits in merged.items():
        for split, sentences in splits.items():
            text = []
            for s, (forms, tags) in enumerate(sentences):
                for w, (form, tag) in enumerate(zip(forms, tags, strict=True)):
                    end = "" if s == len(sentences) - 1 and w == len(forms) - 1 else "\n"
                    text.append(f"{form}{end}" if split == "test" else f"{form}\t{tag}{end}")
                text.append("\n")
            _write(out, f"udpos/{split}-{lang}.tsv", "".join(text))


def _tatoeba(src: str, out: str) -> None:
    for lang, lang3 in TATOEBA_ISO3.items():
        stem = os.path.join(src, f"tatoeba/tatoeba.{lang3}-eng")
        os.makedirs(os.path.join(out, "tatoeba"), exist_ok=True)
        shutil.copy(f"{stem}.{lang3}", os.path.join(out, f"tatoeba/{lang}-en.{lang}"))
        with open(f"{stem}.eng", encoding="utf-8") as f:
            english = [line.strip() for line in f]
        ordered = sorted(zip(english, range(len(english)), strict=True), key=lambda x: x[0])
        _write(out, f"tatoeba/{lang}-en.en", "".join(f"{t}\n" for t, _ in ordered))


def write_xtreme(root: str) -> None:
    """What XTREME's download script leaves under `download/` for these four tasks."""
    with tempfile.TemporaryDirectory() as src:
        write_originals(src)
        _xnli(src, root)
        _panx(src, root)
        _udpos(root)
        _tatoeba(src, root)
