"""No verdict typed by hand: verdict words in a chapter's prose must come from ``glue``.

A verdict ("supported", "refuted", "X beats Y", ...) is a result, so it is computed by
``rvt_lib.stats`` and pasted into the prose with a glue role; typed by hand it can
silently disagree with the numbers next to it. This test reads the markdown cells of
chapters and fails on any verdict word outside:

* a glue reference: ``{glue:text}`name` ``, ``{glue:}`name` ``, ``{glue}`name` `` (other
  MyST roles such as ``{cite}`` and ``{ref}`` are skipped too: their targets are names);
* inline code and fenced code blocks (code, not prose);
* a **marked claim quote**: a blockquote whose first line starts with ``> *Claim*``, e.g.

      > *Claim* (Parent, 2023): "the Transformer beats the LSTM on raw prices".

  The marker says "this is a source's words, not ours"; the whole blockquote (up to the
  first line that does not start with ``>``) is exempt. An unmarked blockquote is prose.

The words: ``rvt_lib.stats.VERDICT_WORDS`` (everything the verdict function can write)
plus a few a person might type instead (``EXTRA_WORDS``). Matching is case-insensitive,
on whole words ("unqualified" is not "qualified").
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTRA_WORDS = ("supported", "not supported", "contradicted", "confirmed", "partly confirmed", "qualified",
               "refuted", "beats", "outperforms", "outperformed", "wins")
try:  # the stats module's own vocabulary, when it is there
    from rvt_lib.stats import VERDICT_WORDS
except ImportError:  # pragma: no cover - before rvt_lib.stats existed
    VERDICT_WORDS = ()
WORDS = tuple(dict.fromkeys((*VERDICT_WORDS, *EXTRA_WORDS)))

# Every chapter is held to the rule (its jupytext source under book/).
CHECKED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("part*/*.py"))

_FENCE = re.compile(r"^\s*(```|~~~)")
_CLAIM = re.compile(r"^\s*>\s*\*Claim\b")
_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")  # {glue:text}`name`, {cite}`key`, {ref}`label`, ...
_CODE = re.compile(r"`[^`]*`")


def _word_pattern(words) -> re.Pattern:
    alts = sorted(words, key=len, reverse=True)  # "not supported" before "supported"
    body = "|".join(r"\s+".join(map(re.escape, w.split())) for w in alts)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def strip_exempt(markdown: str) -> str:
    """``markdown`` with code, glue/other roles and marked claim quotes blanked (lines kept)."""
    out, in_fence, in_claim = [], False, False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append("")
            continue
        if in_fence:
            out.append("")
            continue
        if in_claim and not line.lstrip().startswith(">"):
            in_claim = False
        if _CLAIM.match(line):
            in_claim = True
        if in_claim:
            out.append("")
            continue
        out.append(_CODE.sub(" ", _ROLE.sub(" ", line)))
    return "\n".join(out)


def find_verdict_words(markdown: str, words=WORDS) -> list[tuple[int, str]]:
    """``(line number, word)`` for every verdict word in ``markdown`` outside the exemptions."""
    text = strip_exempt(markdown)
    return [(text.count("\n", 0, m.start()) + 1, m.group(0)) for m in _word_pattern(words).finditer(text)]


def chapter_markdown(path: Path) -> list[str]:
    """The markdown cells of a py:percent chapter."""
    import jupytext
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown"]


# ----------------------------------------------------------------------------- the detector itself

@pytest.mark.parametrize("text, word", [
    ("Verdict: **qualified**.", "qualified"),
    ("The LSTM beats the GPT here.", "beats"),
    ("This claim is Not Supported by our runs.", "Not Supported"),
    ("the claim is not\nsupported", "not\nsupported"),
    ("minLSTM outperforms nanoGPT", "outperforms"),
    ("> The Transformer beats the LSTM (an unmarked quote is prose).", "beats"),
])
def test_detector_finds_typed_verdicts(text, word):
    assert [w for _, w in find_verdict_words(text)] == [word]


@pytest.mark.parametrize("text", [
    "Verdict: **{glue:text}`memory_verdict`**.",
    "Verdict: {glue:}`v` and {glue}`w`, from {glue:text}`../part3_experiments/stocks.ipynb::claim_rnn_vs_tf:s`.",
    "Call `stats.verdict_claim(test, 'a', 'b')`: its words are `confirmed`, `qualified`, `refuted`.",
    "```python\nprint('the claim is refuted')\n```",
    "> *Claim* (Parent, 2023): the Transformer beats the LSTM\n> and is confirmed by its table.",
    "An unqualified, unsupported remark about disqualified models.",
])
def test_detector_allows_glue_code_marked_claims_and_other_words(text):
    assert find_verdict_words(text) == []


def test_marked_claim_ends_with_its_blockquote():
    text = "> *Claim*: A beats B.\n\nWe found that A beats B."
    assert find_verdict_words(text) == [(3, "beats")]


def test_words_include_the_stats_vocabulary():
    assert {"supported", "refuted", "qualified", "beats"} <= {w.lower() for w in WORDS}
    if VERDICT_WORDS:
        assert set(VERDICT_WORDS) <= set(WORDS)


# ----------------------------------------------------------------------------- the chapters

@pytest.mark.parametrize("chapter", CHECKED)
def test_no_typed_verdicts_in_chapter_prose(chapter):
    offenders = [(i, line, word) for i, cell in enumerate(chapter_markdown(ROOT / chapter))
                 for line, word in find_verdict_words(cell)]
    assert not offenders, (f"{chapter}: verdict words typed in prose (markdown cell, line, word): "
                           f"{offenders}; glue them from rvt_lib.stats instead, or mark a source's "
                           f"words as a '> *Claim*' blockquote")


def test_glue_from_another_chapter_names_its_format():
    # myst-nb reads `path::key` without a format as key "path:" with format "key": the build
    # then warns (an error under -W) and the page shows nothing
    bare = re.compile(r"\{glue:text\}`[^`]*::[A-Za-z0-9_]+`")
    offenders = [(p.name, m.group(0)) for p in sorted((ROOT / "book").glob("*/*.py"))
                 for m in bare.finditer(p.read_text())]
    assert not offenders, f"add a format to these glue references (e.g. ::key:s or ::key:d): {offenders}"
