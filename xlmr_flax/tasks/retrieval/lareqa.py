"""LAReQA (target): retrieve the answer sentence in any language; a dual encoder
trained on SQuAD v1.1 question / answer-sentence pairs.

XTREME's download script copies LAReQA's release (`xquad-r/{lang}.json`, with gold)
unchanged, so one layout serves both.
"""

from xlmr_flax.data import features as F
from xlmr_flax.data.lareqa import read_candidates, read_questions
from xlmr_flax.formats.retrieval import RetrievalHooks, check_gold
from xlmr_flax.tasks.base import Layout, Task, register


def lareqa_candidate_id(lang: str, index: int) -> str:
    """The id of sentence `index` (in `read_candidates` order) of LAReQA's `lang` file
    in the multilingual candidate pool: the ids the predictor ranks."""
    return f"{lang}-{index}"


class LareqaHooks(RetrievalHooks):
    """Questions ranked against the answer sentences of every language present."""

    reference_lengths = (96, 256)  # scripts/run_eval_lareqa.sh

    def training_pairs(self, task, examples, raw_dir, protocol):
        """SQuAD question → the sentence holding its answer, with its paragraph as a
        second segment under "xtreme_r" (processors/lareqa.py)."""
        for q in examples:
            if q["answers"]:
                context = q["context"]
                sentence = F.answer_sentence(context, q["answers"][0]["start"])
                positive = sentence if protocol == "project" else (sentence, context)
                yield q["id"], q["question"], positive

    def queries(self, examples, protocol):
        return [q["question"] for q in examples]

    def pool_languages(self, task, split, raw_dir):
        return tuple(lang for s, lang in task.available(raw_dir) if s == split)

    def pool(self, task, split, raw_dir, langs, protocol):
        """Every language's sentences (with their paragraphs, under "xtreme_r")."""
        ids, texts = [], []
        for lang in langs:
            candidates = read_candidates(task.files(raw_dir, split, lang)[0])
            ids += [lareqa_candidate_id(lang, i) for i in range(len(candidates))]
            texts += [F.lareqa_candidate(c["sentence"], c["context"], protocol)
                      for c in candidates]  # fmt: skip
        return ids, texts

    def gold(self, task, lang, raw_dir, split):
        """A question's relevant candidates: its answer sentence in every language whose
        file is under `raw_dir` (the pool the predictor searches)."""
        examples = list(task.read(raw_dir, split, lang))
        check_gold(task, lang, raw_dir, split)
        sentence_of = {
            pool_lang: {q["id"]: q["answer_sentence"] for q in task.read(raw_dir, split, pool_lang)}
            for pool_lang in self.pool_languages(task, split, raw_dir)
        }
        return {
            e["id"]: [
                lareqa_candidate_id(pool_lang, found[e["id"]])
                for pool_lang, found in sentence_of.items()
                if e["id"] in found
            ]
            for e in examples
        }


TASK = register(
    Task(
        name="lareqa",
        train_examples=87_599,  # SQuAD v1.1's questions (a dual encoder on its sentences)
        format="retrieval",
        source="LAReQA XQuAD-R {lang}.json (google-research-datasets/lareqa)",
        metric="map@20",
        splits=("test",),
        train_langs=(),
        eval_langs=tuple("ar de el en es hi ru th tr vi zh".split()),
        train_on=("squad_v1",),
        gold_field="answer_sentence",
        hooks=LareqaHooks(),
        layouts=(
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"lareqa/xquad-r/{lang}.json"],
                reader=read_questions,
            ),
        ),
    )
)
