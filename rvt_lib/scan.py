"""The linear recurrence behind minGRU/minLSTM, and four ways to compute it.

Every function here computes, elementwise over the feature dimension,

    h_t = a_t * h_{t-1} + b_t          for t = 0 .. T-1,   with h_{-1} = h0 (default 0)

for tensors ``a`` and ``b`` of shape (B, T, D) (time on dim 1, like every sequence layer
in this library) and an optional initial state ``h0`` of shape (B, D). They all return
``h`` of shape (B, T, D).

Why can a recurrence be parallel at all? Write one step as the pair (a_t, b_t): "multiply
by a_t, then add b_t". Doing step (a1, b1) and then step (a2, b2) is again such a step:

    a2 * (a1 * h + b1) + b2 = (a1 * a2) * h + (a2 * b1 + b2)

so two steps *combine* into one pair, ``(a1, b1) o (a2, b2) = (a1 * a2, a2 * b1 + b2)``
(:func:`combine`). This operator is associative, ``(x o y) o z == x o (y o z)``, and
associativity is all a parallel prefix scan needs: the pairs can be grouped in any
order, e.g. as a balanced tree of depth log2(T) instead of a chain of length T.

The functions, from the reference to the practical one:

* :func:`scan_sequential`: the loop. T dependent steps, O(T) work. The reference.
* :func:`scan_hillis_steele`: log2(T) rounds, each combining every element with the one
  ``2**k`` steps earlier (a shift). O(T log T) work: simple, but does redundant work.
* :func:`scan_blelloch`: the work-efficient scan: an up-sweep (a reduction tree) and a
  down-sweep (pushing prefixes back down the tree). O(T) work, 2 log2(T) depth.
* :func:`scan_log`: Heinsen's (2023) log-space scan for *positive* coefficients, built
  from two library primitives (``cumsum`` and ``logcumsumexp``), chunked so that float32
  stays accurate for long sequences. This is what ``MinGRU(mode="parallel")`` uses by
  default (``MinGRUConfig(scan="blelloch")`` selects :func:`scan_blelloch` instead).
* :func:`scan_logspace`: the same, taking ``a`` and ``b`` instead of their logs.

On speed: on a CPU (few cores) no scan can use the log2(T) depth; they only save the
per-step overhead of the Python loop. There the real-space :func:`scan_blelloch` is the
fastest (about 1.6x faster than the loop, forward + backward, at B=8, T=4096, D=128 on
one thread), while :func:`scan_log` pays for the slow ``logcumsumexp`` kernel. The
speed-ups reported for minGRU come from GPUs (see ``benchmarks/bench_minrnn.py``).

Complex coefficients: :func:`scan_sequential`, :func:`scan_hillis_steele` and
:func:`scan_blelloch` only multiply and add, so they work unchanged on complex tensors
(``a`` a complex "rotate and shrink" factor, as in the LRU, :mod:`rvt_lib.models.lru`);
a, b and h0 must then share one complex dtype. The log-space scans need real, positive
coefficients and refuse complex ones.

For the book: :func:`blelloch_steps` records every step of a Blelloch scan on a small
list, and :func:`logspace_error` measures how the log-space scan's float32 error grows
with the sequence length, with and without chunking.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from rvt_lib._checks import check_sequence

__all__ = [
    "combine",
    "scan_sequential",
    "scan_hillis_steele",
    "scan_blelloch",
    "scan_log",
    "scan_logspace",
    "logspace_error",
    "blelloch_steps",
]


# ---------------------------------------------------------------------------------------
# The associative operator
# ---------------------------------------------------------------------------------------

def combine(left, right):
    """Compose two recurrence steps: ``(a1, b1) o (a2, b2) = (a1 * a2, a2 * b1 + b2)``.

    ``left`` is the earlier step, ``right`` the later one; each is a pair ``(a, b)`` of
    tensors (or numbers) that broadcast together. Applying the result to a state ``h``
    gives the same as applying ``left`` and then ``right``::

        (a1 * a2) * h + (a2 * b1 + b2) == a2 * (a1 * h + b1) + b2

    The operator is associative but *not* commutative (the order of steps matters),
    and its identity is ``(1, 0)`` ("multiply by one, add nothing"). Associativity is
    the whole reason the recurrence can be computed by a parallel scan.
    """
    a1, b1 = left
    a2, b2 = right
    return a1 * a2, a2 * b1 + b2


# ---------------------------------------------------------------------------------------
# Input checks (shared by every scan below)
# ---------------------------------------------------------------------------------------

def _real(x):
    """The real part of a complex tensor (same shape), anything else unchanged: for the checks."""
    return x.real if isinstance(x, torch.Tensor) and x.is_complex() else x


def _check_inputs(fn: str, a, b, h0, names=("a", "b", "h0"), complex_ok: bool = True) -> None:
    """Validate (B, T, D) coefficients (real or, if ``complex_ok``, complex) and an optional (B, D) initial state."""
    na, nb, nh = names
    if not complex_ok:
        for name, v in zip(names, (a, b, h0)):
            if isinstance(v, torch.Tensor) and v.is_complex():
                raise TypeError(f"{fn}: {name} is complex ({v.dtype}); the log-space scan needs real "
                                f"coefficients. Use scan_sequential, scan_hillis_steele or scan_blelloch, "
                                f"which work on complex tensors.")
    # Name the feature size in the message when we know it, else write "D".
    features = a.shape[-1] if isinstance(a, torch.Tensor) and a.dim() == 3 else "D"
    check_sequence(_real(a), features, name=f"{fn}: {na}")
    B, T, D = a.shape
    if isinstance(b, torch.Tensor) and b.shape != a.shape:
        raise ValueError(f"{fn}: {nb} must have the same shape as {na}, (B, T, D) = {tuple(a.shape)}, "
                         f"got {tuple(b.shape)}")
    check_sequence(_real(b), D, name=f"{fn}: {nb}")
    if b.dtype != a.dtype:
        raise TypeError(f"{fn}: {na} and {nb} must have the same dtype, got {a.dtype} and {b.dtype}")
    if h0 is not None:
        if not isinstance(h0, torch.Tensor):
            raise TypeError(f"{fn}: {nh} must be a torch.Tensor of shape (B, D) = {(B, D)}, "
                            f"got {type(h0).__name__}")
        if tuple(h0.shape) != (B, D):
            raise ValueError(f"{fn}: {nh} must have shape (B, D) = {(B, D)}, got {tuple(h0.shape)}")
        if h0.dtype != a.dtype:
            raise TypeError(f"{fn}: {nh} must have the same dtype as {na} ({a.dtype}), got {h0.dtype}")


def _fold_h0(a, b, h0):
    """Fold the initial state into the first step: b_0 <- a_0 * h0 + b_0.

    After this the recurrence starts from zero, and h_t is just the ``b`` part of the
    inclusive scan of the pairs (a_t, b_t).
    """
    if h0 is None:
        return b
    first = a[:, :1] * h0.unsqueeze(1) + b[:, :1]           # (B, 1, D)
    return torch.cat([first, b[:, 1:]], dim=1)               # (B, T, D)


# ---------------------------------------------------------------------------------------
# 1. The reference loop
# ---------------------------------------------------------------------------------------

def scan_sequential(a, b, h0=None):
    """The recurrence as a plain loop over time: T dependent steps, O(T) work.

    This is the definition, used as the reference for every other scan and by the
    sequential (generation) mode of minGRU/minLSTM.
    """
    _check_inputs("scan_sequential", a, b, h0)
    B, T, D = a.shape
    h = torch.zeros(B, D, dtype=a.dtype, device=a.device) if h0 is None else h0   # (B, D)
    hs = []
    # unbind splits along time once; indexing a[:, t] in the loop would make backward
    # allocate a full (B, T, D) gradient per step (quadratic in T).
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):           # (B, D) each
        h = a_t * h + b_t                                    # (B, D)
        hs.append(h)
    return torch.stack(hs, dim=1)                            # (B, T, D)


# ---------------------------------------------------------------------------------------
# 2. Hillis-Steele: log depth, O(T log T) work
# ---------------------------------------------------------------------------------------

def scan_hillis_steele(a, b, h0=None):
    """Inclusive scan in ceil(log2 T) rounds (Hillis & Steele, 1986).

    Round k combines every position t with position t - 2**k (positions before the start
    combine with the identity (1, 0)). After round k, position t holds the composition
    of the steps t - 2**(k+1) + 1 .. t, so after ceil(log2 T) rounds it holds all steps
    0 .. t. Every round touches all T positions, hence O(T log T) work: more than the
    loop, but only log2 T *dependent* rounds. The shifts are plain tensor slicing.
    """
    _check_inputs("scan_hillis_steele", a, b, h0)
    B, T, D = a.shape
    A, Bv = a, _fold_h0(a, b, h0)                            # (B, T, D) each
    shift = 1
    while shift < T:
        # The pair `shift` steps earlier; the identity (1, 0) before the start.
        A_prev = torch.cat([torch.ones_like(A[:, :shift]), A[:, :-shift]], dim=1)     # (B, T, D)
        B_prev = torch.cat([torch.zeros_like(Bv[:, :shift]), Bv[:, :-shift]], dim=1)  # (B, T, D)
        A, Bv = combine((A_prev, B_prev), (A, Bv))
        shift *= 2
    return Bv                                                # (B, T, D): h_t


# ---------------------------------------------------------------------------------------
# 3. Blelloch: work-efficient, O(T) work, 2 log T depth
# ---------------------------------------------------------------------------------------

def scan_blelloch(a, b, h0=None):
    """Work-efficient scan (Blelloch, 1990): an up-sweep and a down-sweep over a tree.

    T is padded to a power of two N with identity steps (1, 0).

    * Up-sweep (reduce): combine neighbours in pairs, level by level:
      N leaves -> N/2 -> ... -> 1 root holding the composition of all steps.
      We keep every level: ``levels[k]`` has N / 2**k nodes.
    * Down-sweep: walk back down. Each node receives the *exclusive* prefix P (the
      composition of everything to its left; the identity at the root) and passes
      P to its left child and P o (left child's total) to its right child.

    At the leaves we have the exclusive prefix of every step; one more ``combine`` with
    the step itself gives the inclusive prefix, whose ``b`` part is h_t. Total work is
    about 2N combines (O(T)), in 2 log2 N dependent levels. (The classic in-place
    array version of the same algorithm is recorded step by step by
    :func:`blelloch_steps`.)
    """
    _check_inputs("scan_blelloch", a, b, h0)
    B, T, D = a.shape
    bb = _fold_h0(a, b, h0)
    N = 1 << (T - 1).bit_length()                            # next power of two >= T
    pad = N - T
    A = torch.cat([a, a.new_ones(B, pad, D)], dim=1)         # (B, N, D)
    Bv = torch.cat([bb, bb.new_zeros(B, pad, D)], dim=1)     # (B, N, D)

    # Up-sweep: levels[k] = (A, B) with N / 2**k nodes.
    levels = [(A, Bv)]
    while A.shape[1] > 1:
        n = A.shape[1] // 2
        A2, B2 = A.view(B, n, 2, D), Bv.view(B, n, 2, D)     # pair up neighbours
        A, Bv = combine((A2[:, :, 0], B2[:, :, 0]), (A2[:, :, 1], B2[:, :, 1]))  # (B, n, D)
        levels.append((A, Bv))

    # Down-sweep: exclusive prefixes, starting with the identity at the root.
    PA, PB = torch.ones_like(A), torch.zeros_like(Bv)        # (B, 1, D)
    for A_child, B_child in reversed(levels[:-1]):
        n = A_child.shape[1] // 2
        left_A = A_child.view(B, n, 2, D)[:, :, 0]           # totals of the left children
        left_B = B_child.view(B, n, 2, D)[:, :, 0]
        RA, RB = combine((PA, PB), (left_A, left_B))         # prefix for the right children
        PA = torch.stack([PA, RA], dim=2).reshape(B, 2 * n, D)   # interleave: left, right
        PB = torch.stack([PB, RB], dim=2).reshape(B, 2 * n, D)

    # Exclusive -> inclusive: h_t = a_t * h_{t-1} + b_t with h_{t-1} = PB[:, t].
    _, H = combine((PA, PB), levels[0])                      # (B, N, D)
    return H[:, :T]                                          # (B, T, D)


def blelloch_steps(values):
    """Record a Blelloch *exclusive* sum-scan of a small list, step by step.

    This is the classic in-place array formulation, for drawing (e.g. an ipywidgets
    slider in the book). The list is padded with zeros to a power-of-two length N.

    * Up-sweep, level d = 0 .. log2(N) - 1: for every i = 2**(d+1) - 1, step 2**(d+1):
      ``x[i] += x[i - 2**d]``  (pair ``(i - 2**d, i)``).
    * Down-sweep: set the root ``x[N-1] = 0`` (the identity), then for
      d = log2(N) - 1 .. 0: ``t = x[i - 2**d]; x[i - 2**d] = x[i]; x[i] += t``.

    Returns a list of snapshots (dicts), one before anything happens and one after each
    level:

    * ``"phase"``: ``"start"``, ``"up"`` or ``"down"``;
    * ``"level"``: d (``None`` for the start; the clearing of the root is reported as
      phase ``"down"``, level ``log2(N)``, with no pairs);
    * ``"array"``: a copy of the working array (length N) after the step;
    * ``"pairs"``: the ``(i - 2**d, i)`` index pairs touched in that step;
    * ``"note"``: one sentence describing the step.

    The last snapshot's array, cut to ``len(values)``, is the exclusive prefix sum
    ``[0, v0, v0 + v1, ...]``.
    """
    values = list(values)
    if len(values) == 0:
        raise ValueError("blelloch_steps: expected a non-empty list of numbers, got an empty one")
    n = len(values)
    N = 1 << (n - 1).bit_length()
    x = values + [0] * (N - n)
    L = N.bit_length() - 1                                   # log2(N)
    steps = [{"phase": "start", "level": None, "array": list(x), "pairs": [],
              "note": f"input padded with zeros to length {N}"}]
    for d in range(L):
        stride, half = 2 ** (d + 1), 2 ** d
        pairs = [(i - half, i) for i in range(stride - 1, N, stride)]
        for i, j in pairs:
            x[j] = x[i] + x[j]
        steps.append({"phase": "up", "level": d, "array": list(x), "pairs": pairs,
                      "note": f"up-sweep: x[j] += x[j - {half}] for every {stride}th j"})
    x[N - 1] = 0
    steps.append({"phase": "down", "level": L, "array": list(x), "pairs": [],
                  "note": "down-sweep starts: the root gets the identity 0"})
    for d in reversed(range(L)):
        stride, half = 2 ** (d + 1), 2 ** d
        pairs = [(i - half, i) for i in range(stride - 1, N, stride)]
        for i, j in pairs:
            x[i], x[j] = x[j], x[j] + x[i]
        steps.append({"phase": "down", "level": d, "array": list(x), "pairs": pairs,
                      "note": f"down-sweep: left child gets the parent's prefix, right child "
                              f"gets prefix + left total (distance {half})"})
    return steps


# ---------------------------------------------------------------------------------------
# 4. Log space (Heinsen, 2023), chunked
# ---------------------------------------------------------------------------------------

def _scan_log_chunk(log_a, log_b, h_prev):
    """One chunk of the log-space scan; ``h_prev`` (B, D) is a real state of any sign.

    With a*_t = sum_{s<=t} log a_s (so prod_{s<=t} a_s = exp(a*_t)), unrolling the
    recurrence and dividing by that product gives

        h_t = exp(a*_t) * h_prev + exp(a*_t + log sum_{s<=t} exp(log b_s - a*_s))

    The second term is ``cumsum`` and ``logcumsumexp``, both parallel library scans. The
    first term handles the initial state *by linearity*, so no log of it is ever taken
    and it may be negative or zero.
    """
    a_star = torch.cumsum(log_a, dim=1)                                  # (B, t, D)
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))    # (B, t, D)
    if h_prev is not None:
        h = h + torch.exp(a_star) * h_prev.unsqueeze(1)
    return h


def scan_log(log_a, log_b, log_h0=None, chunk_size: int | None = 256, *, h0=None):
    """Heinsen's log-space scan for positive coefficients, chunked for accuracy.

    Takes the logs of ``a`` (any real value: a = exp(log_a) > 0) and of ``b`` (b > 0),
    both (B, T, D), and returns h (B, T, D). The initial state is given either as
    ``log_h0`` (the log of a positive state) or as ``h0`` (a state of any sign; it enters
    by linearity, see :func:`_scan_log_chunk`), not both. Default: h0 = 0.

    Why chunks? a*_t = cumsum(log a) grows linearly with t: with a_t about 0.5 it reaches
    about -45,000 at T = 65,536. The formula adds two such huge numbers of opposite sign
    (a*_t and the logcumsumexp) to get the modest log h_t; in float32 a number near
    45,000 is only known to about 0.004, so h_t gets a relative error of that size. We
    therefore scan ``chunk_size`` steps at a time and carry the last state into the next
    chunk, which keeps ``|a*|`` at the scale of one chunk. ``chunk_size=None`` does a single
    pass over the whole sequence (the book uses it to show the error growing with T).
    The sequential depth is T / chunk_size chunks, each fully parallel inside.

    The relative error is roughly 1e-7 times the largest ``|a*|`` inside a chunk, i.e.
    about 1e-7 * chunk_size * mean(-log a). With minGRU-like gates (mean -log a of about
    0.8, see :func:`logspace_error`) the max relative error at T = 65,536 in float32 is
    about 2.5e-5 with the default chunk_size=256, 1.0e-4 with 1024 and 6e-3 in a
    single pass. Gates that forget faster (a near 0) want smaller chunks.

    Gradients come from a hand-written backward (:class:`_LogScan`): the gradient of a
    linear recurrence is the same kind of recurrence run backwards in time.
    """
    if log_h0 is not None and h0 is not None:
        raise ValueError("scan_log: give the initial state as log_h0 or as h0, not both")
    _check_inputs("scan_log", log_a, log_b, log_h0 if h0 is None else h0,
                  names=("log_a", "log_b", "log_h0" if h0 is None else "h0"), complex_ok=False)
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool)
                                   or chunk_size < 1):
        raise ValueError(f"scan_log: chunk_size must be a positive int or None, got {chunk_size!r}")
    if log_h0 is not None:
        h0 = torch.exp(log_h0)                               # (B, D), positive
    return _LogScan.apply(log_a, log_b, h0, chunk_size)      # (B, T, D)


def _scan_log_forward(log_a, log_b, h0, chunk_size):
    """The chunk loop of :func:`scan_log` (no checks): scan a chunk, carry its last state."""
    step = log_a.shape[1] if chunk_size is None else chunk_size
    h_prev, outs = h0, []
    for la, lb in zip(log_a.split(step, dim=1), log_b.split(step, dim=1)):
        h = _scan_log_chunk(la, lb, h_prev)                  # (B, chunk, D)
        outs.append(h)
        h_prev = h[:, -1]                                    # (B, D): carried to the next chunk
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)   # (B, T, D)


class _LogScan(torch.autograd.Function):
    """The log-space forward, with the backward written out as a reverse-time scan.

    Autograd could differentiate :func:`_scan_log_forward` by itself, but through
    ``logcumsumexp`` that is slow (on CPU it is most of the training step) and keeps
    many intermediates. The gradient of a linear recurrence is a linear recurrence
    itself, run backwards in time. With G_t = dL/dh_t from above, let g_t be the total
    gradient reaching h_t (directly and through all later steps)::

        g_t = G_t + a_{t+1} * g_{t+1},     g_{T-1} = G_{T-1}

    Then, since h_t = a_t h_{t-1} + b_t::

        dL/db_t = g_t          ->  dL/dlog b_t = g_t * b_t
        dL/da_t = g_t h_{t-1}  ->  dL/dlog a_t = g_t * a_t * h_{t-1}
        dL/dh0  = a_0 * g_0

    G has any sign, so this reverse scan runs in real space, with :func:`scan_blelloch`
    on time-reversed tensors (exact for any sign; the a's are just multiplied). Only the
    inputs and h are stored. (This is also how fused scan kernels do their backward.)
    """

    @staticmethod
    def forward(ctx, log_a, log_b, h0, chunk_size):
        h = _scan_log_forward(log_a, log_b, h0, chunk_size)  # (B, T, D)
        ctx.save_for_backward(log_a, log_b, h, h0)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h):                               # grad_h: (B, T, D) = G
        log_a, log_b, h, h0 = ctx.saved_tensors
        B, T, D = h.shape
        a = torch.exp(log_a)                                 # (B, T, D)
        a_next = torch.cat([a[:, 1:], a.new_zeros(B, 1, D)], dim=1)   # a_{t+1}; none after the end
        # g_t = G_t + a_{t+1} g_{t+1}: the forward recurrence on reversed time.
        g = scan_blelloch(a_next.flip(1), grad_h.flip(1)).flip(1)     # (B, T, D)
        h_start = h0 if h0 is not None else h.new_zeros(B, D)
        h_prev = torch.cat([h_start.unsqueeze(1), h[:, :-1]], dim=1)  # (B, T, D): h_{t-1}
        grad_log_a = g * a * h_prev if ctx.needs_input_grad[0] else None
        grad_log_b = g * torch.exp(log_b) if ctx.needs_input_grad[1] else None
        grad_h0 = a[:, 0] * g[:, 0] if h0 is not None and ctx.needs_input_grad[2] else None
        return grad_log_a, grad_log_b, grad_h0, None


def scan_logspace(a, b, h0=None, chunk_size: int | None = 256):
    """:func:`scan_log` for callers holding ``a`` and ``b`` themselves (both > 0).

    Logs are taken of ``a`` and ``b`` only, so they must be strictly positive (a
    ``ValueError`` names the offending argument otherwise); ``h0`` (B, D) may have any
    sign, it enters by linearity. Models that can compute log a and log b directly from
    pre-activations (minGRU: log sigmoid(k) = -softplus(-k)) should call
    :func:`scan_log` instead: it is more accurate than taking the log of a rounded a.
    """
    _check_inputs("scan_logspace", a, b, h0, complex_ok=False)
    for name, v in (("a", a), ("b", b)):
        if not bool((v > 0).all()):
            raise ValueError(f"scan_logspace: {name} must be strictly positive (its log is taken); "
                             f"smallest value is {v.min().item():.3g}. Use scan_sequential, "
                             f"scan_hillis_steele or scan_blelloch for coefficients of any sign.")
    return scan_log(torch.log(a), torch.log(b), h0=h0, chunk_size=chunk_size)


def logspace_error(T: int, chunk_size: int | None = 256, seed: int = 0, D: int = 16,
                   B: int = 1) -> float:
    """Max relative error of the float32 log-space scan against a float64 reference.

    The coefficients imitate a minGRU layer with random pre-activations: with
    k, v ~ N(0, 1) elementwise, z = sigmoid(k),

        a_t = 1 - z_t   (the "forget" coefficient, in (0, 1), mean 0.5)
        b_t = z_t * g(v_t), g(v) = v + 0.5 if v >= 0 else sigmoid(v)   (positive)

    so h stays of order one for any T while cumsum(log a) falls by about 0.8 per step.
    The logs are computed in float64 and rounded once to float32, so the measured error
    is that of the scan, not of the inputs. The reference is :func:`scan_sequential` in
    float64 on the same (rounded) coefficients. Returns ``max |h32 - h64| / |h64|``
    over all elements (h > 0 here, so the ratio is well defined).
    """
    if T < 1:
        raise ValueError(f"logspace_error: T must be >= 1, got {T}")
    gen = torch.Generator().manual_seed(seed)
    k = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    v = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    log_a = (-F.softplus(k)).float()                                     # log(1 - z)
    log_g = torch.where(v >= 0, torch.log(v.clamp(min=0) + 0.5), -F.softplus(-v))
    log_b = (-F.softplus(-k) + log_g).float()                            # log z + log g(v)
    h32 = scan_log(log_a, log_b, chunk_size=chunk_size)
    ref = scan_sequential(log_a.double().exp(), log_b.double().exp())
    return ((h32.double() - ref).abs() / ref.abs()).max().item()
