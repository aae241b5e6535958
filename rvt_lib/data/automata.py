"""Synthetic state-tracking tasks: read a stream of symbols, output the state after each one.

Every task here is a *running product* in a small finite algebra. Each input symbol is an
element ``x_t``; the state after reading ``x_1 .. x_t`` is

    s_t = x_t * x_{t-1} * ... * x_1          (applied right to left: x_1 first)

and the label at position t is ``s_t`` (or a function of it, for the flip-flop). A model sees
``inputs[:, :t+1]`` and must output ``states[:, t]``: the answer at every position, for any
length, so the same data tests whether a model *extrapolates* to longer sequences.

The tasks::

    | task       | inputs                          | state                         | algebra |
    |------------|---------------------------------|-------------------------------|---------|
    | "parity"   | bits 0/1 (P(1) = ``p_one``)     | running XOR                   | Z_2 |
    | "flipflop" | 0 = write 0, 1 = write 1, 2 = ignore | the last written bit (0 at first) | a 3-element monoid |
    | "cyclic"   | 0 .. n-1 (kw ``n``, default 5)  | running sum mod n             | Z_n |
    | "s3"       | the 6 permutations of 3 items   | their running composition     | S_3 (solvable) |
    | "a5"       | the 60 even permutations of 5   | their running composition     | A_5 (non-solvable) |
    | "s5"       | the 120 permutations of 5       | their running composition     | S_5 (non-solvable) |

Why these? Parity, the flip-flop and Z_n are solvable (abelian, or aperiodic); A_5 and S_5 are
the smallest non-solvable groups. Tracking a non-solvable group is believed to be impossible
for a fixed-depth transformer or diagonal linear RNN at every length (it is NC^1-complete),
while a nonlinear RNN does it with one step per symbol. The chapters measure that gap.

Permutations
------------
A permutation of ``n`` items is a tuple ``p`` with ``p[i]`` = where item ``i`` goes. The
group is enumerated deterministically: all permutations in lexicographic order (so the
identity ``(0, 1, ..., n-1)`` is element 0), keeping only the even ones for A_5. Composition
is *function composition*, written ``compose(p, q)``, meaning "first q, then p":

    compose(p, q)[i] = p[q[i]]

so the running state ``s_t = compose(x_t, s_{t-1})``: apply the shuffles in the order they
arrive. Think of a deck of cards: ``s_t[i]`` is where card ``i`` is after ``t`` shuffles.

Speed
-----
We precompute the multiplication table ``mul[a, b] = index(compose(elem[a], elem[b]))``, so
one step for a whole batch is one table lookup ``mul[x_t, s_{t-1}]``: a Python loop over the
T positions, each step vectorised over all N sequences (S_5, N = 1000, T = 1024: well under
a second).
A Hillis-Steele scan (see ``scan.py``) needs only log2(T) steps, but does log2(T) times more
work; measured here it was slower unless N is tiny, so the plain loop it is.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

TASKS = ("parity", "flipflop", "cyclic", "s3", "a5", "s5")


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task: vocabulary sizes in and out."""

    name: str
    n_inputs: int      # inputs are ints in [0, n_inputs)
    n_states: int      # state labels are ints in [0, n_states)
    description: str


# ----------------------------------------------------------------------------- permutations

Perm = tuple  # a permutation of range(n): p[i] is the image of i


def compose(p: Perm, q: Perm) -> Perm:
    """``p`` after ``q``: ``compose(p, q)[i] == p[q[i]]`` (apply q first, then p)."""
    if len(p) != len(q):
        raise ValueError(f"cannot compose permutations of {len(p)} and {len(q)} items")
    return tuple(p[q[i]] for i in range(len(q)))


def is_even(p: Perm) -> bool:
    """A permutation is even if it has an even number of inversions (pairs out of order)."""
    inversions = sum(1 for i, j in itertools.combinations(range(len(p)), 2) if p[i] > p[j])
    return inversions % 2 == 0


@lru_cache(maxsize=None)
def group_elements(name: str) -> tuple[Perm, ...]:
    """The elements of "s3", "a5" or "s5" as permutation tuples, identity first, in a fixed order."""
    if name == "s3":
        return tuple(itertools.permutations(range(3)))  # lexicographic order
    if name == "s5":
        return tuple(itertools.permutations(range(5)))
    if name == "a5":
        return tuple(p for p in itertools.permutations(range(5)) if is_even(p))
    raise ValueError(f"unknown group {name!r}; groups: 's3', 'a5', 's5'")


def multiplication_table(elements) -> np.ndarray:
    """``mul[a, b]`` = index of ``compose(elements[a], elements[b])``; (G, G) int64.

    Raises ValueError if the set is not closed under composition (then it is not a group).
    """
    index = {p: i for i, p in enumerate(elements)}
    G = len(elements)
    mul = np.empty((G, G), dtype=np.int64)
    for a, p in enumerate(elements):
        for b, q in enumerate(elements):
            pq = compose(p, q)
            if pq not in index:
                raise ValueError(f"not closed: {p} o {q} = {pq} is not in the set")
            mul[a, b] = index[pq]
    return mul


@lru_cache(maxsize=None)
def _group_table(name: str) -> np.ndarray:
    mul = multiplication_table(group_elements(name))
    mul.flags.writeable = False  # cached and shared: never modified
    return mul


# ----------------------------------------------------------------------------- the scan

def running_product(x: np.ndarray, mul: np.ndarray) -> np.ndarray:
    """All prefix products ``p[:, t] = x[:, t] * x[:, t-1] * ... * x[:, 0]`` for a table ``mul``.

    ``x`` is (N, T) element indices; ``mul[a, b]`` is "a after b". Later elements go on the
    left, matching ``s_t = x_t * s_{t-1}``.
    """
    xt = np.ascontiguousarray(x.T)    # (T, N): time-major, so each step reads contiguous memory
    p = np.empty_like(xt)             # (T, N)
    p[0] = xt[0]
    for t in range(1, len(xt)):
        p[t] = mul[xt[t], p[t - 1]]   # (N,) one table lookup per sequence
    return p.T                        # (N, T)


# ----------------------------------------------------------------------------- the tasks

@dataclass(frozen=True)
class _Task:
    spec: TaskSpec
    mul: np.ndarray          # (M, M) table of the algebra the inputs live in
    state_of: np.ndarray     # (M,) element of the algebra -> state label
    probs: np.ndarray        # (n_inputs,) input distribution; input i is algebra element i


def _probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _build(name: str, **kw) -> _Task:
    """Check the task name and its keyword arguments; return its table and input distribution."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    allowed = {"parity": {"p_one"}, "flipflop": {"probs"}, "cyclic": {"n"}}.get(name, set())
    unknown = set(kw) - allowed
    if unknown:
        raise TypeError(f"task {name!r} got unexpected keyword(s) {sorted(unknown)}; "
                        f"it accepts {sorted(allowed) or 'none'}")

    if name == "parity":
        p_one = _probability(kw.get("p_one", 0.5), "p_one")
        mul = (np.arange(2)[:, None] + np.arange(2)[None, :]) % 2       # XOR table
        spec = TaskSpec("parity", 2, 2, f"running parity of random bits (P(1) = {p_one})")
        return _Task(spec, mul, np.arange(2), np.array([1 - p_one, p_one]))

    if name == "cyclic":
        n = kw.get("n", 5)
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n must be an int >= 2, got {n!r}")
        mul = (np.arange(n)[:, None] + np.arange(n)[None, :]) % n       # addition mod n
        spec = TaskSpec("cyclic", n, n, f"running sum mod {n} of uniform elements of Z_{n}")
        return _Task(spec, mul, np.arange(n), np.full(n, 1.0 / n))

    if name == "flipflop":
        probs = kw.get("probs", (0.1, 0.1, 0.8))
        if len(probs) != 3:
            raise ValueError(f"probs must be 3 probabilities (write 0, write 1, ignore), got {probs!r}")
        probs = np.array([_probability(p, "each of probs") for p in probs])
        if abs(probs.sum() - 1.0) > 1e-9:
            raise ValueError(f"probs must sum to 1, got {tuple(probs)} (sum {probs.sum()})")
        # elements 0 = "write 0", 1 = "write 1", 2 = "ignore" (the identity). Composition
        # "a after b": a write overrides whatever came before; ignore keeps it.
        mul = np.array([[0, 0, 0],
                        [1, 1, 1],
                        [0, 1, 2]])
        # the state is the bit the prefix leaves behind, starting from 0: ignore-only -> 0
        spec = TaskSpec("flipflop", 3, 2, "last written bit; inputs 0 = write 0, 1 = write 1, 2 = ignore "
                                          f"with probabilities {tuple(float(p) for p in probs)}")
        return _Task(spec, mul, np.array([0, 1, 0]), probs)

    # the permutation groups
    mul = _group_table(name)
    G = len(mul)
    what = {"s3": "S_3, the 6 permutations of 3 items (solvable)",
            "a5": "A_5, the 60 even permutations of 5 items (non-solvable)",
            "s5": "S_5, the 120 permutations of 5 items (non-solvable)"}[name]
    spec = TaskSpec(name, G, G, f"running composition of uniform random elements of {what}")
    return _Task(spec, mul, np.arange(G), np.full(G, 1.0 / G))


def task_spec(name: str, **kw) -> TaskSpec:
    """The TaskSpec of task ``name`` with the same keyword arguments as ``make_task``."""
    return _build(name, **kw).spec


def identity_symbol(name: str, **kw) -> int:
    """The input symbol that leaves every state unchanged (parity and Z_n: 0; the flip-flop:
    "ignore"; the groups: the identity permutation), found from the task's table."""
    mul = _build(name, **kw).mul
    ident = np.arange(len(mul))
    return next(e for e in range(len(mul)) if (mul[e] == ident).all() and (mul[:, e] == ident).all())


def label_inputs(name: str, inputs, **kw) -> torch.Tensor:
    """The states of task ``name`` after each symbol of given ``inputs`` (N, T) ints.

    For structured probes (one symbol repeated, a write followed by ignores) rather than
    the random sequences of :func:`make_task`, which labels its sequences the same way.
    Raises ValueError for a shape other than (N, T) or a symbol outside [0, n_inputs).
    """
    task = _build(name, **kw)
    x = np.asarray(inputs.cpu() if isinstance(inputs, torch.Tensor) else inputs)
    if x.ndim != 2 or x.size == 0 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"label_inputs: inputs must be a non-empty (N, T) array of ints, got shape "
                         f"{x.shape} and dtype {x.dtype}")
    if x.min() < 0 or x.max() >= task.spec.n_inputs:
        raise ValueError(f"label_inputs: task {name!r} has symbols 0..{task.spec.n_inputs - 1}, got "
                         f"values in [{x.min()}, {x.max()}]")
    return _label(task, x)


def _label(task: _Task, x: np.ndarray) -> torch.Tensor:
    states = task.state_of[running_product(x, task.mul)]                         # (N, T)
    return torch.from_numpy(states.astype(np.int64))


def make_task(name: str, n_samples: int, length: int, seed: int = 0, **kw):
    """Generate ``n_samples`` random sequences of ``length`` inputs with their running states.

    Returns ``(inputs, states)``, both int64 tensors of shape (n_samples, length):
    ``states[:, t]`` is the state after reading ``inputs[:, :t+1]``. The same ``seed`` (and
    arguments) always gives the same data. Keyword arguments: ``p_one`` (parity), ``probs``
    (flipflop: write 0, write 1, ignore), ``n`` (cyclic).
    """
    task = _build(name, **kw)
    for arg, v in (("n_samples", n_samples), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{arg} must be a positive int, got {v!r}")
    rng = np.random.default_rng(seed)
    x = rng.choice(task.spec.n_inputs, size=(n_samples, length), p=task.probs)  # (N, T)
    return torch.from_numpy(x.astype(np.int64)), _label(task, x)
