"""Tiny raw folders for XCOPA, COPA, SIQA and the intermediate tasks (ANLI+, MNLI,
SNLI, QQP, SST-2, HellaSwag, CommonsenseQA, Cosmos QA, CCG), our own text.

`write_originals(root)` lays out each dataset's own release as its archive unpacks
(cambridgeltl's XCOPA `data/` folder placed in `xcopa/`, SuperGLUE's `COPA/`, AI2's
`socialiqa-train-dev/`, `anli_v1.0/`, `snli_1.0/`, GLUE's `MNLI/`, `QQP/`,
`SST-2/`, ...). `write_xtreme(root)` leaves what XTREME's `scripts/download_data.sh`
leaves for xcopa and siqa: it unpacks the same releases and applies the script's
steps (COPA's files renamed to `xcopa/{split}-en.jsonl`, XCOPA's to
`xcopa/{split}-{lang}.jsonl`, then `utils_preprocess.py --task xcopa` rewriting
every `test*` file with each label 0 through `json.dumps`; the socialIQa_v1.4
archive unpacked into `siqa/`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile

XCOPA_LANGS = ("it", "sw", "ta", "zh")  # Latin; low-resource (Joshi 2); two non-Latin scripts

# (premise, cause-or-effect, the right choice, the wrong one) in English and each language.
CAUSAL = {
    "en": [
        ("The glass fell off the table.", "effect", "It broke into pieces.", "It began to sing."),
        ("The man opened his umbrella.", "cause", "It began to rain.", "The sun was setting."),
        ("The child was hungry.", "effect", "She ate some bread.", "She closed the window."),
        ("The road was wet.", "cause", "It had rained at night.", "The bus was late."),
        ("I turned off the light.", "effect", "The room became dark.", "The phone rang."),
        ("The woman bought new shoes.", "cause", "Her old ones were torn.", "She lost her keys."),
    ],
    "it": [
        ("Il bicchiere è caduto dal tavolo.", "effect", "Si è rotto in pezzi.", "Ha cominciato a cantare."),
        ("L'uomo ha aperto l'ombrello.", "cause", "Ha cominciato a piovere.", "Il sole tramontava."),
        ("Il bambino aveva fame.", "effect", "Ha mangiato del pane.", "Ha chiuso la finestra."),
        ("La strada era bagnata.", "cause", "Era piovuto di notte.", "L'autobus era in ritardo."),
        ("Ho spento la luce.", "effect", "La stanza è diventata buia.", "Il telefono ha squillato."),
        ("La donna ha comprato scarpe nuove.", "cause", "Quelle vecchie erano rotte.", "Ha perso le chiavi."),
    ],
    "sw": [
        ("Glasi ilianguka kutoka mezani.", "effect", "Ilivunjika vipande vipande.", "Ilianza kuimba."),
        ("Mwanamume alifungua mwavuli wake.", "cause", "Mvua ilianza kunyesha.", "Jua lilikuwa likizama."),
        ("Mtoto alikuwa na njaa.", "effect", "Alikula mkate.", "Alifunga dirisha."),
        ("Barabara ilikuwa na maji.", "cause", "Mvua ilinyesha usiku.", "Basi lilichelewa."),
        ("Nilizima taa.", "effect", "Chumba kikawa giza.", "Simu ililia."),
        ("Mwanamke alinunua viatu vipya.", "cause", "Viatu vyake vya zamani vilichanika.", "Alipoteza funguo zake."),
    ],
    "ta": [
        ("கண்ணாடி டம்ளர் மேசையிலிருந்து விழுந்தது.", "effect", "அது துண்டுகளாக உடைந்தது.", "அது பாடத் தொடங்கியது."),
        ("அந்த மனிதர் தன் குடையைத் திறந்தார்.", "cause", "மழை பெய்யத் தொடங்கியது.", "சூரியன் மறைந்து கொண்டிருந்தது."),
        ("குழந்தைக்குப் பசித்தது.", "effect", "அவள் ரொட்டி சாப்பிட்டாள்.", "அவள் ஜன்னலை மூடினாள்."),
        ("சாலை ஈரமாக இருந்தது.", "cause", "இரவில் மழை பெய்திருந்தது.", "பேருந்து தாமதமாக வந்தது."),
        ("நான் விளக்கை அணைத்தேன்.", "effect", "அறை இருட்டானது.", "தொலைபேசி ஒலித்தது."),
        ("அந்தப் பெண் புதிய காலணிகள் வாங்கினாள்.", "cause", "அவளுடைய பழைய காலணிகள் கிழிந்திருந்தன.", "அவள் சாவிகளைத் தொலைத்தாள்."),
    ],
    "zh": [
        ("杯子从桌子上掉了下来。", "effect", "它摔成了碎片。", "它开始唱歌。"),
        ("那个男人打开了雨伞。", "cause", "开始下雨了。", "太阳正在落山。"),
        ("孩子饿了。", "effect", "她吃了一些面包。", "她关上了窗户。"),
        ("路面是湿的。", "cause", "夜里下过雨。", "公交车晚点了。"),
        ("我关掉了灯。", "effect", "房间变暗了。", "电话响了。"),
        ("那个女人买了新鞋。", "cause", "她的旧鞋破了。", "她丢了钥匙。"),
    ],
}  # fmt: skip

COPA_MORE = [  # English COPA beyond the shared items: training, validation and test
    ("The dog barked loudly.", "cause", "A stranger came to the door.", "The milk was cold."),
    ("The student studied all night.", "effect", "She passed the exam.", "She forgot her name."),
    ("The ice cream melted.", "cause", "It was left in the sun.", "It was put in the freezer."),
    ("The baby started to cry.", "effect", "Her mother picked her up.", "The car was washed."),
    ("The boy kicked the ball.", "effect", "It rolled across the grass.", "It turned into a bird."),
    (
        "The soup was too salty.",
        "cause",
        "The cook added too much salt.",
        "The cook washed the pot.",
    ),
    ("The plant died.", "cause", "Nobody watered it.", "It was very green."),
    ("The lights went out.", "cause", "There was a storm.", "We ate dinner."),
    ("The cup was full.", "effect", "The tea spilled when I ran.", "The tea turned to stone."),
    ("He put on a coat.", "cause", "It was cold outside.", "It was his birthday."),
]


def _copa_record(item, label: int, idx: int) -> dict:
    premise, question, right, wrong = item
    choices = (right, wrong) if label == 0 else (wrong, right)
    return dict(premise=premise, choice1=choices[0], choice2=choices[1], question=question,
                label=label, idx=idx)  # fmt: skip


def _alternating(items, first_idx: int) -> list[dict]:
    return [_copa_record(item, i % 2, first_idx + i) for i, item in enumerate(items)]


def copa_splits() -> dict[str, list[dict]]:
    """SuperGLUE COPA: train (10), val (3), test (3, no labels); idx from 0 per file."""
    english = CAUSAL["en"] + COPA_MORE
    test = [{k: v for k, v in r.items() if k != "label"} for r in _alternating(english[13:], 0)]
    return dict(train=_alternating(english[:10], 0), val=_alternating(english[10:13], 0), test=test)


def xcopa_splits(lang: str) -> dict[str, list[dict]]:
    """cambridgeltl's XCOPA: val (3) and test (3) with gold labels and `changed`."""
    records = _alternating(CAUSAL[lang], 1)
    for r in records:
        r["changed"] = r["idx"] % 3 == 0
    return dict(val=records[:3], test=records[3:])


# (context, question, answers A-C, the right letter)
SOCIAL = [
    ("Ana lent her notes to a classmate who had been sick.", "Why did Ana do this?",
     ("to help her classmate catch up", "to lose her notes", "to skip the exam"), "A"),
    ("Ben forgot his friend's birthday.", "How would Ben feel afterwards?",
     ("proud", "sorry", "bored"), "B"),
    ("Carla cooked dinner for her tired parents.", "What will her parents want to do next?",
     ("thank Carla", "go to work", "cook again"), "A"),
    ("David won the chess match after a long game.", "How would David feel?",
     ("angry", "sleepy but happy", "confused"), "B"),
    ("Eva moved to a new city and knew nobody.", "What does Eva need to do to make friends?",
     ("stay at home", "sell her car", "meet new people"), "C"),
    ("Farid spilled coffee on his colleague's desk.", "What will Farid want to do next?",
     ("clean the desk", "order more coffee", "leave quietly"), "A"),
    ("Grace practised the piano every evening.", "How would you describe Grace?",
     ("lazy", "dedicated", "forgetful"), "B"),
    ("Hugo gave his seat on the bus to an old man.", "How would the old man feel?",
     ("grateful", "annoyed", "lost"), "A"),
    ("Ines stayed up late to finish her report.", "What will Ines want to do next?",
     ("start another report", "go dancing", "get some sleep"), "C"),
    ("Jon shouted at his brother during dinner.", "How would his brother feel?",
     ("hurt", "hungry", "proud"), "A"),
    ("Kofi found a wallet on the street.", "What should Kofi do next?",
     ("keep the money", "return it to its owner", "throw it away"), "B"),
    ("Lena baked a cake for her neighbour.", "Why did Lena do this?",
     ("to be kind", "to fix the oven", "to win a race"), "A"),
    ("Mia missed the last train home.", "What will Mia want to do next?",
     ("buy a train", "find another way home", "sleep at the station for a year"), "B"),
    ("Nora helped a tourist read the map.", "How would the tourist feel?",
     ("thankful", "jealous", "tired of maps"), "A"),
    ("Omar broke his sister's toy by accident.", "What will Omar want to do next?",
     ("hide the toy", "buy another toy", "apologise to his sister"), "C"),
    ("Pia listened carefully to her friend's problems.", "How would you describe Pia?",
     ("supportive", "rude", "noisy"), "A"),
]  # fmt: skip
SIQA_SPLITS = dict(train=SOCIAL[:10], dev=SOCIAL[10:13], test=SOCIAL[13:])


def _siqa_record(item) -> dict:
    context, question, answers, _ = item
    return dict(context=context, question=question, answerA=answers[0], answerB=answers[1],
                answerC=answers[2])  # fmt: skip


def _jsonl(path: str, records, ensure_ascii: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=ensure_ascii) + "\n")


def _text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _tsv(path: str, header, rows) -> None:
    _text(path, "".join("\t".join(map(str, r)) + "\n" for r in [header, *rows]))


# --- the original releases --------------------------------------------------------------


def write_xcopa_release(root: str) -> None:
    """cambridgeltl/xcopa's `data/{lang}/{val,test}.{lang}.jsonl`, in `xcopa/data/`."""
    for lang in XCOPA_LANGS:
        for split, records in xcopa_splits(lang).items():
            _jsonl(os.path.join(root, "xcopa", "data", lang, f"{split}.{lang}.jsonl"), records)


def write_copa_release(root: str) -> None:
    """SuperGLUE's COPA.zip: `COPA/{train,val,test}.jsonl`, the test without labels."""
    for split, records in copa_splits().items():
        _jsonl(os.path.join(root, "COPA", f"{split}.jsonl"), records)


def write_siqa_release(root: str) -> None:
    """AI2's socialiqa-train-dev.zip: `{train,dev}.jsonl` + `{train,dev}-labels.lst` (1-3)."""
    folder = os.path.join(root, "socialiqa-train-dev")
    for split in ("train", "dev"):
        items = SIQA_SPLITS[split]
        _jsonl(os.path.join(folder, f"{split}.jsonl"), [_siqa_record(i) for i in items])
        labels = "".join(f"{'ABC'.index(i[3]) + 1}\n" for i in items)
        _text(os.path.join(folder, f"{split}-labels.lst"), labels)


def write_siqa_v14(folder: str) -> None:
    """The socialIQa_v1.4 archive: `socialIQa_v1.4_{trn,dev,tst}.jsonl`, answer letter
    in `correct`."""
    for split, short in (("train", "trn"), ("dev", "dev"), ("test", "tst")):
        records = [{**_siqa_record(i), "correct": i[3]} for i in SIQA_SPLITS[split]]
        _jsonl(os.path.join(folder, f"socialIQa_v1.4_{short}.jsonl"), records)


NLI = [  # (premise, hypothesis, label)
    ("A woman is reading a book in the park.", "A person is outdoors.", "entailment"),
    ("Two boys are playing football.", "The boys are asleep.", "contradiction"),
    ("A man is cooking dinner.", "The man is cooking for his family.", "neutral"),
    ("The train left the station at noon.", "A train departed.", "entailment"),
    ("A girl is riding a red bicycle.", "The girl is swimming.", "contradiction"),
    ("An old man sits on a bench.", "The man is waiting for a friend.", "neutral"),
]
ANLI_SHORT = {"entailment": "e", "neutral": "n", "contradiction": "c"}


def write_anli_release(root: str) -> None:
    """anli_v1.0.zip: `anli_v1.0/R{1,2,3}/{train,dev,test}.jsonl`."""
    for round_ in (1, 2, 3):
        for s, split in enumerate(("train", "dev", "test")):
            records = [
                dict(
                    uid=f"r{round_}-{split}-{i}",
                    context=p,
                    hypothesis=h,
                    label=ANLI_SHORT[label],
                    model_label="e",
                    emturk=False,
                    genre="wiki",
                    reason="",
                    tag="",
                )
                for i, (p, h, label) in enumerate(NLI[s * 2 : s * 2 + 2 + (split == "train")])
            ]
            _jsonl(os.path.join(root, "anli_v1.0", f"R{round_}", f"{split}.jsonl"), records)


def _parse(sentence: str) -> str:
    return "( " + " ".join(sentence.rstrip(".").split()) + " . )"


def write_snli_release(root: str) -> None:
    """snli_1.0.zip: `snli_1.0/snli_1.0_{train,dev,test}.jsonl`; a pair without
    annotator consensus has gold_label `-`."""
    for s, split in enumerate(("train", "dev", "test")):
        pairs = [*NLI[s * 2 : s * 2 + 2], ("A dog runs.", "An animal moves.", "-")]
        records = [
            dict(
                annotator_labels=["neutral"],
                captionID=f"{split}{i}.jpg#0",
                gold_label=label,
                pairID=f"{split}{i}.jpg#0r1",
                sentence1=p,
                sentence1_binary_parse=_parse(p),
                sentence1_parse=f"(ROOT (S {p}))",
                sentence2=h,
                sentence2_binary_parse=_parse(h),
                sentence2_parse=f"(ROOT (S {h}))",
            )
            for i, (p, h, label) in enumerate(pairs)
        ]
        _jsonl(os.path.join(root, "snli_1.0", f"snli_1.0_{split}.jsonl"), records)


MNLI_HEAD = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
             "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1",
             "sentence2"]  # fmt: skip


def write_glue_release(root: str) -> None:
    """GLUE's MNLI.zip, QQP.zip, SST-2.zip: `MNLI/{train,dev_matched,dev_mismatched,
    test_matched}.tsv`, `QQP/{train,dev,test}.tsv`, `SST-2/{train,dev,test}.tsv`, each
    with GLUE's header row; test files without labels."""

    def mnli_row(i, p, h):
        return [i, 1000 + i, f"{1000 + i}e", "fiction", _parse(p), _parse(h),
                f"(ROOT (S {p}))", f"(ROOT (S {h}))", p, h]  # fmt: skip

    mnli = os.path.join(root, "MNLI")
    _tsv(f"{mnli}/train.tsv", [*MNLI_HEAD, "label1", "gold_label"],
         [[*mnli_row(i, p, h), label, label] for i, (p, h, label) in enumerate(NLI[:4])])  # fmt: skip
    five = ["label1", "label2", "label3", "label4", "label5", "gold_label"]
    for name, pairs in (("dev_matched", NLI[4:]), ("dev_mismatched", NLI[:2])):
        _tsv(f"{mnli}/{name}.tsv", [*MNLI_HEAD, *five],
             [[*mnli_row(i, p, h), *[label] * 5, label] for i, (p, h, label) in enumerate(pairs)])  # fmt: skip
    _tsv(
        f"{mnli}/test_matched.tsv",
        MNLI_HEAD,
        [mnli_row(i, p, h) for i, (p, h, _) in enumerate(NLI[:2])],
    )

    questions = [
        ("How do I learn to cook rice?", "What is the best way to cook rice?", 1),
        ("Why is the sky blue?", "How tall is the tallest tree?", 0),
        ("Where can I buy cheap books?", "Which shops sell books for little money?", 1),
        ("What is a good name for a cat?", "How do I fix a flat tyre?", 0),
    ]
    qqp = os.path.join(root, "QQP")
    head = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    rows = [[i, 2 * i + 1, 2 * i + 2, a, b, d] for i, (a, b, d) in enumerate(questions)]
    _tsv(f"{qqp}/train.tsv", head, rows[:3])
    _tsv(f"{qqp}/dev.tsv", head, rows[3:])
    _tsv(
        f"{qqp}/test.tsv", ["id", "question1", "question2"], [[0, questions[0][0], questions[0][1]]]
    )

    sentences = [("a warm , funny film . ", 1), ("the plot goes nowhere . ", 0),
                 ("it 's a charming little story . ", 1), ("dull and far too long . ", 0)]  # fmt: skip
    sst = os.path.join(root, "SST-2")
    _tsv(f"{sst}/train.tsv", ["sentence", "label"], sentences[:3])
    _tsv(f"{sst}/dev.tsv", ["sentence", "label"], sentences[3:])
    _tsv(f"{sst}/test.tsv", ["index", "sentence"], [[0, sentences[0][0]]])


def write_hellaswag_release(root: str) -> None:
    """rowanz/hellaswag's `data/hellaswag_{train,val}.jsonl`, in `hellaswag/`."""
    items = [
        ("Making tea", "A woman fills a kettle with water.", "she",
         ["puts it on the stove.", "throws it out of the window.", "paints it blue.",
          "reads it a story."], 0),
        ("Washing a car", "A man sprays the car with a hose.", "he",
         ["eats the sponge.", "scrubs the doors with soap.", "drives into the lake.",
          "folds the car."], 1),
        ("Walking a dog", "A boy clips a lead to the dog's collar.", "they",
         ["fly over the houses.", "sing to the moon.", "walk down the street.",
          "turn into cats."], 2),
    ]  # fmt: skip
    for split, chosen in (("train", items[:2]), ("val", items[2:])):
        records = [
            dict(
                ind=i + (10 if split == "val" else 0),
                activity_label=activity,
                ctx_a=a,
                ctx_b=b,
                ctx=f"{a} {b}",
                split=split,
                split_type="indomain",
                endings=endings,
                source_id=f"activitynet~v_{i}",
                label=label,
            )
            for i, (activity, a, b, endings, label) in enumerate(chosen)
        ]
        _jsonl(os.path.join(root, "hellaswag", f"hellaswag_{split}.jsonl"), records)


def write_commonsenseqa_release(root: str) -> None:
    """CommonsenseQA's `{train,dev}_rand_split.jsonl`, in `commonsenseqa/`."""
    items = [
        ("Where would you keep milk cold?", "milk", ["oven", "fridge", "garden", "desk", "car"], "B"),
        ("What do people use to cut paper?", "paper", ["spoon", "pillow", "scissors", "cup", "rope"], "C"),
        ("Where do fish live?", "fish", ["water", "desert", "attic", "library", "oven"], "A"),
    ]  # fmt: skip
    for split, chosen in (("train", items[:2]), ("dev", items[2:])):
        records = [
            dict(
                answerKey=key,
                id=f"{split}{i:032x}",
                question=dict(
                    question_concept=concept,
                    stem=stem,
                    choices=[dict(label=c, text=t) for c, t in zip("ABCDE", texts, strict=True)],
                ),
            )
            for i, (stem, concept, texts, key) in enumerate(chosen)
        ]
        _jsonl(os.path.join(root, "commonsenseqa", f"{split}_rand_split.jsonl"), records)


def write_cosmosqa_release(root: str) -> None:
    """wilburOne/cosmosqa's `data/train.csv` and `valid.csv` (csv quoting: commas,
    quotes and line breaks inside fields), in `cosmosqa/`."""
    head = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    rows = [
        ["3X0H8UUIT1N7##blog_1##q1", 'I missed the bus, so I walked. It was "fine".\nMy feet hurt later.',
         "Why did my feet hurt?", "I walked a long way.", "I took the bus.", "I flew.",
         "None of the above choices .", 0],
        ["3X0H8UUIT1N7##blog_2##q1", "We planted tomatoes in May; by August we had plenty.",
         "What probably happened in August?", "The plants died.", "We picked tomatoes.",
         "It snowed.", "We sold the garden.", 1],
        ["3X0H8UUIT1N7##blog_3##q2", "My sister laughed when she opened the letter.",
         "What may be true about the letter?", "It was sad news.", "It was blank.",
         "It had good news.", "None of the above choices .", 2],
    ]  # fmt: skip
    for name, chosen in (("train", rows[:2]), ("valid", rows[2:])):
        path = os.path.join(root, "cosmosqa", f"{name}.csv")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerows([head, *chosen])


def write_ccg_release(root: str) -> None:
    """jiant's CCG files (scripts/ccg/ccg_proc.py): `ccg/ccg.{train,dev,test}`, one
    sentence per line, `tokens<TAB>supertags`, and `ccg/tags_to_id.json`."""
    sentences = [
        ("The cat sat .", r"NP[nb]/N N S[dcl]\NP ."),
        ("Dogs chase cats .", r"N (S[dcl]\NP)/NP N ."),
        ("She reads books quickly .", r"NP (S[dcl]\NP)/NP N (S\NP)\(S\NP) ."),
        ("The sun rose .", r"NP[nb]/N N S[dcl]\NP ."),
        ("Birds sing .", r"N S[dcl]\NP ."),
    ]
    tags = sorted({t for _, line in sentences for t in line.split()})
    for split, chosen in (
        ("train", sentences[:3]),
        ("dev", sentences[3:4]),
        ("test", sentences[4:]),
    ):
        _text(os.path.join(root, "ccg", f"ccg.{split}"), "".join(f"{a}\t{b}\n" for a, b in chosen))
    _text(
        os.path.join(root, "ccg", "tags_to_id.json"), json.dumps({t: i for i, t in enumerate(tags)})
    )


def write_originals(root: str) -> None:
    write_xcopa_release(root)
    write_copa_release(root)
    write_siqa_release(root)
    write_anli_release(root)
    write_snli_release(root)
    write_glue_release(root)
    write_hellaswag_release(root)
    write_commonsenseqa_release(root)
    write_cosmosqa_release(root)
    write_ccg_release(root)


# --- what XTREME's download script leaves ------------------------------------------------


def xtreme_zero_test_labels(folder: str) -> None:
    """`utils_preprocess.py --task xcopa`: every file whose name starts with `test` is
    rewritten with each example's label set to 0 (json.dumps: ASCII escapes)."""
    for name in os.listdir(folder):
        if not name.startswith("test"):
            continue
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        for r in records:
            r["label"] = 0
        _jsonl(path, records, ensure_ascii=True)


def write_xtreme(root: str) -> None:
    """`download_xcopa` and `download_siqa` of XTREME's scripts/download_data.sh."""
    xcopa = os.path.join(root, "xcopa")
    with tempfile.TemporaryDirectory() as download:
        write_copa_release(download)
        write_xcopa_release(download)
        os.makedirs(xcopa, exist_ok=True)
        for split in ("train", "val", "test"):  # mv COPA/${split}.jsonl ${split}-en.jsonl
            shutil.copy(
                os.path.join(download, "COPA", f"{split}.jsonl"), f"{xcopa}/{split}-en.jsonl"
            )
        for lang in XCOPA_LANGS:  # wget val.${lang}.jsonl; mv to val-${lang}.jsonl
            for split in ("val", "test"):
                source = os.path.join(download, "xcopa", "data", lang, f"{split}.{lang}.jsonl")
                shutil.copy(source, f"{xcopa}/{split}-{lang}.jsonl")
    xtreme_zero_test_labels(xcopa)
    write_siqa_v14(os.path.join(root, "siqa"))  # tar -xf socialIQa_v1.4.tgz in siqa/
