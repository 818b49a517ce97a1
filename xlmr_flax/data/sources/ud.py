"""Universal Dependencies treebanks turned into UD-POS data the way XTREME does it.

XTREME's download script takes every CoNLL-U file of the UD release whose name
starts with `{lang}_` (all treebanks of a language), converts each with
ud-conversion-tools' `conllu_to_conll.py --replace_subtokens_with_fused_forms`, and
`utils_preprocess.py` then merges a language's files per split into
`udpos/{split}-{lang}.tsv`. Reading the release here gives the same sentences,
tokens and tags:

- a file's split is the first of `train`, `dev`, `test` its name contains; a
  language's files are read in name order;
- a multiword token (`3-4 del`) replaces its syntactic words and takes the UPOS of
  the word heading them: the one with the fewest ancestors in the sentence's
  dependency graph (basic and enhanced heads), ties broken by a UPOS preference list
  (Spanish, French and Italian have their own);
- empty nodes (`8.1`) and comment lines are left out;
- a sentence whose forms are all, or all but one, `_` is dropped (treebanks
  distributed without their text);
- spaces and zero-width non-joiners are removed from forms.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence

from xlmr_flax.data.readers import Example, _lines, _require_examples
from xlmr_flax.errors import DataError

# conllu_to_conll.py's head preferences among equally high words of a multiword token.
DEFAULT_PREFERENCE = tuple(
    "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT".split()
)
PREFERENCE = {
    "es": tuple("VERB AUX PRON ADP DET".split()),
    "fr": tuple("VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ".split()),
    "it": tuple("VERB AUX ADV PRON ADP DET INTJ".split()),
}
_NON_JOINER = "\u200c"


def file_split(name: str) -> str | None:
    """The split XTREME files a treebank file under (by substring, train first)."""
    return next((s for s in ("train", "dev", "test") if s in name), None)


def treebank_files(release_dir: str, split: str, lang: str) -> list[str]:
    """The CoNLL-U files of every treebank of `lang` for `split`, in XTREME's order."""
    found = glob.glob(os.path.join(glob.escape(release_dir), "*", f"{lang}_*.conllu"))
    found = [f for f in found if file_split(os.path.basename(f)) == split]
    return sorted(found, key=os.path.basename)


def read_treebanks(*paths: str, allowed_tags: Sequence[str] | None = None) -> Iterator[Example]:
    """Every sentence of the given CoNLL-U files, in order, as `id, tokens, tags`."""
    count = 0
    for path in paths:
        lang = os.path.basename(path).split("_")[0]
        preference = PREFERENCE.get(lang, DEFAULT_PREFERENCE)
        for start, rows in _sentences(path):
            tokens, tags, lines = _xtreme_words(path, rows, preference)
            if not tokens:
                continue
            for tag, number in zip(tags, lines, strict=True):
                if allowed_tags is not None and tag not in allowed_tags:
                    raise DataError(f"{path}:{number}: UPOS {tag!r} not in the task's tag set")
            count += 1
            yield dict(id=f"{os.path.basename(path)}-{start}", tokens=tokens, tags=tags)
    _require_examples(" + ".join(paths), count)


def _sentences(path: str) -> Iterator[tuple[int, list[list]]]:
    """(first line, rows) per sentence; a row is [line, id, form, upos, heads, end]
    where `end` is set on multiword-token rows (`id-end`) and `heads` holds the basic
    and enhanced heads."""
    rows: list[list] = []
    start = 1
    for number, line in [*_lines(path), (None, "")]:
        if not line.strip():
            if rows:
                yield start, rows
            rows, start = [], (number or 0) + 1
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, "
                            f"found {len(fields)}")  # fmt: skip
        word_id, form, upos, head, deps = fields[0], fields[1], fields[3], fields[6], fields[8]
        if "." in word_id:  # empty node of the enhanced graph: not a word
            continue
        try:
            if "-" in word_id:
                first, end = (int(x) for x in word_id.split("-"))
                rows.append([number, first, form, upos, (), end])
                continue
            enhanced = [d.split(":")[0] for d in deps.split("|")] if deps != "_" else []
            heads = [int(h) for h in [head, *enhanced] if h.isdigit()]
            rows.append([number, int(word_id), form, upos, tuple(heads), None])
        except ValueError:
            raise DataError(f"{path}:{number}: ID {word_id!r} is not a number or range") from None


def _xtreme_words(
    path: str, rows: list[list], preference: Sequence[str]
) -> tuple[list[str], list[str], list[int]]:
    """The sentence's forms, UPOS tags and their lines after XTREME's conversion; all
    empty when it drops the sentence."""
    words = {r[1]: r for r in rows if r[5] is None}
    spans = [r for r in rows if r[5] is not None]
    fused = {}  # the word that carries each multiword token's form
    for number, first, form, _, _, end in spans:
        members = list(range(first, end + 1))
        if not all(m in words for m in members):
            raise DataError(f"{path}:{number}: multiword token {first}-{end} covers missing words")
        fused[_span_head(words, members, preference)] = form
    dropped = {m for r in spans for m in range(r[1], r[5] + 1)} - set(fused)
    forms, tags, lines = [], [], []
    for word_id, (number, _, form, upos, _, _) in words.items():
        if word_id not in dropped:
            forms.append(fused.get(word_id, form).strip())
            tags.append(upos.strip())
            lines.append(number)
    empty = sum(f == "_" for f in forms)
    if empty and empty >= len(forms) - 1:
        return [], [], []
    return ["".join(f.replace(_NON_JOINER, "").split(" ")) for f in forms], tags, lines


def _span_head(words: dict, members: list[int], preference: Sequence[str]) -> int:
    """The word of a multiword token closest to the root (fewest ancestors); among
    several, the first with the most preferred UPOS. An unlisted UPOS ranks last
    (ud-conversion-tools stops there, and XTREME's files then lack that treebank)."""
    depth = {m: len(_ancestors(words, m)) for m in members}
    highest = [m for m in members if depth[m] == min(depth.values())]
    if len(highest) == 1:
        return highest[0]
    rank = {tag: i for i, tag in enumerate(preference)}
    return min(highest, key=lambda m: rank.get(words[m][3], len(rank)))


def _ancestors(words: dict, word_id: int) -> set[int]:
    """Every word (and the root, 0) from which a path of head links leads to `word_id`."""
    seen: set[int] = set()
    todo = [word_id]
    while todo:
        node = todo.pop()
        for head in words[node][4] if node in words else ():
            if head not in seen:
                seen.add(head)
                todo.append(head)
    return seen - {word_id}
