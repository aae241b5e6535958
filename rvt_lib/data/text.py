"""Character-level text: Tiny Shakespeare, a vocabulary, and random training windows.

This is the data side of nanoGPT's ``shakespeare_char`` recipe, written out in one class:

* the vocabulary is every distinct character of the text, sorted (65 for Tiny Shakespeare),
  and a character's id is its position in that sorted list;
* the encoded text is split once: the first 90% for training, the last 10% for validation
  (a contiguous split, so validation text is genuinely unseen);
* a training batch is ``batch_size`` random windows of ``block_size`` characters; the target
  of every position is the next character, i.e. the same window shifted by one.

    ds = load_shakespeare()
    x, y = ds.get_batch("train", batch_size=32, block_size=128)   # (32, 128) each
    ds.decode(x[0])                                               # back to text
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rvt_lib.data.registry import fetch

SPLITS = ("train", "val")


@dataclass
class CharDataset:
    """A text with its character vocabulary and the 90/10 train/validation split."""

    text: str
    train_fraction: float = 0.9
    chars: list[str] = field(init=False)       # sorted distinct characters
    stoi: dict[str, int] = field(init=False)   # character -> id
    itos: dict[int, str] = field(init=False)   # id -> character
    train: torch.Tensor = field(init=False)    # (n_train,) int64 ids
    val: torch.Tensor = field(init=False)      # (n_val,) int64 ids

    def __post_init__(self):
        if not isinstance(self.text, str) or len(self.text) < 2:
            raise ValueError("CharDataset needs a str of at least 2 characters")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        self.chars = sorted(set(self.text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = {i: ch for i, ch in enumerate(self.chars)}
        data = torch.tensor(self.encode(self.text), dtype=torch.long)  # (N,)
        n = int(self.train_fraction * len(data))
        self.train, self.val = data[:n], data[n:]

    def __repr__(self) -> str:  # the default would print a million characters
        return (f"CharDataset(characters={len(self.text):,}, vocab_size={self.vocab_size}, "
                f"train={len(self.train):,}, val={len(self.val):,})")

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        """Text -> list of ids. A character outside the vocabulary is a ValueError naming it."""
        try:
            return [self.stoi[c] for c in s]
        except KeyError as err:
            c = err.args[0]
            raise ValueError(
                f"character {c!r} (at index {s.index(c)}) is not in the vocabulary of "
                f"{self.vocab_size} characters"
            ) from None

    def decode(self, ids) -> str:
        """Ids (a list, or a 1-D tensor/array) -> text."""
        if hasattr(ids, "tolist"):  # torch tensors and numpy arrays
            if getattr(ids, "ndim", 1) != 1:
                raise ValueError(f"decode expects a 1-D sequence of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        try:
            return "".join(self.itos[int(i)] for i in ids)
        except KeyError as err:
            raise ValueError(f"id {err.args[0]} is out of range for vocab_size {self.vocab_size}") from None

    def get_batch(self, split: str, batch_size: int, block_size: int,
                  generator: torch.Generator | None = None, device="cpu"):
        """Sample ``batch_size`` random windows: inputs ``x`` and next-character targets ``y``.

        Both are (batch_size, block_size) int64 tensors with ``y[:, t] == x[:, t + 1]`` for
        ``t < block_size - 1``: the model at position t must predict the character after it.
        Pass a seeded ``torch.Generator`` to get the same batches on every run.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        for name, v in (("batch_size", batch_size), ("block_size", block_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        data = self.train if split == "train" else self.val  # (N,)
        if block_size >= len(data):
            raise ValueError(
                f"block_size={block_size} must be smaller than the {split} split ({len(data)} ids)"
            )
        # a window starting at i needs ids i .. i+block_size (the last one only as a target)
        starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
        offsets = starts[:, None] + torch.arange(block_size)[None, :]                      # (B, T)
        x = data[offsets]       # (B, T)
        y = data[offsets + 1]   # (B, T) the same windows, shifted one character to the right
        return x.to(device), y.to(device)


def load_shakespeare() -> CharDataset:
    """Tiny Shakespeare (1,115,394 characters, 65 distinct) as a CharDataset.

    The file comes through ``rvt_lib.data.registry.fetch`` (``$RVT_DATA_DIR`` or the cache).
    """
    text = fetch("tinyshakespeare.txt").read_text(encoding="utf-8")
    return CharDataset(text)
