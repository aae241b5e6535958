"""The scratch RNN, GRU and LSTM against torch.nn: outputs, states and every gradient."""
import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from rvt_lib.models.gru import GRU, GRUCell, GRUConfig
from rvt_lib.models.lstm import LSTM, LSTMCell, LSTMConfig, LSTMRecurrence
from rvt_lib.models.rnn import RNN, RNNCell, RNNConfig

KINDS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
B, T, I, H = 3, 7, 5, 6


def make_pair(kind, num_layers=1, fast=True, bias=True, dtype=torch.float64, seed=0):
    """Our model and an equal torch.nn one (weights copied from torch into ours)."""
    torch.manual_seed(seed)
    if kind.startswith("rnn"):
        act = kind.split("_")[1]
        theirs = nn.RNN(I, H, num_layers, nonlinearity=act, bias=bias, batch_first=True)
        ours = RNN(RNNConfig(I, H, num_layers, nonlinearity=act, bias=bias, fast=fast))
    elif kind == "gru":
        theirs = nn.GRU(I, H, num_layers, bias=bias, batch_first=True)
        ours = GRU(GRUConfig(I, H, num_layers, bias=bias, fast=fast))
    else:
        theirs = nn.LSTM(I, H, num_layers, bias=bias, batch_first=True)
        ours = LSTM(LSTMConfig(I, H, num_layers, bias=bias, fast=fast))
    theirs, ours = theirs.to(dtype), ours.to(dtype)
    return ours.copy_from_torch(theirs), theirs


def make_state(kind, num_layers, dtype=torch.float64, batch=B):
    h0 = torch.randn(num_layers, batch, H, dtype=dtype, requires_grad=True)
    if kind == "lstm":
        return (h0, torch.randn(num_layers, batch, H, dtype=dtype, requires_grad=True))
    return h0


def flat_state(state):
    return list(state) if isinstance(state, tuple) else [state]


def run_and_grad(model, x, state):
    """Outputs, final states, and d(loss)/d(x, initial state, every parameter) in torch's order."""
    y, s = model(x, state)
    # A loss that touches the outputs and the final states with different weights.
    loss = (y ** 2).sum() + sum((k + 2.0) * v.sin().sum() for k, v in enumerate(flat_state(s)))
    inputs = [x] + (flat_state(state) if state is not None else []) + list(model.parameters())
    grads = torch.autograd.grad(loss, inputs)
    return [y] + flat_state(s) + list(grads)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_equal_to_torch_float64(kind, num_layers, fast, with_state):
    ours, theirs = make_pair(kind, num_layers, fast)
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = make_state(kind, num_layers) if with_state else None
    # parameters() of ours (cells.l.weight_ih, weight_hh, bias_ih, bias_hh) follow torch's order
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    got, want = run_and_grad(ours, x, state), run_and_grad(theirs, x, state)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fast", [True, False])
def test_equal_to_torch_no_bias_three_layers(kind, fast):
    ours, theirs = make_pair(kind, num_layers=3, fast=fast, bias=False)
    assert all(p.dim() == 2 for p in ours.parameters())  # no bias vectors at all
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = make_state(kind, 3)
    for a, b in zip(run_and_grad(ours, x, state), run_and_grad(theirs, x, state)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fast", [True, False])
def test_equal_to_torch_float32(kind, fast):
    ours, theirs = make_pair(kind, num_layers=2, fast=fast, dtype=torch.float32)
    x = torch.randn(4, 20, I, requires_grad=True)
    state = make_state(kind, 2, dtype=torch.float32, batch=4)
    for a, b in zip(run_and_grad(ours, x, state), run_and_grad(theirs, x, state)):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_and_readable_paths_agree(kind):
    fast, _ = make_pair(kind, num_layers=2, fast=True, seed=1)
    slow, _ = make_pair(kind, num_layers=2, fast=False, seed=1)
    assert fast.config.fast and not slow.config.fast
    x = torch.randn(2, 11, I, dtype=torch.float64, requires_grad=True)
    state = make_state(kind, 2, batch=2)
    for a, b in zip(run_and_grad(fast, x, state), run_and_grad(slow, x, state)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fast", [True, False])
def test_chunked_equals_one_pass(kind, fast):
    ours, _ = make_pair(kind, num_layers=2, fast=fast)
    x = torch.randn(B, 10, I, dtype=torch.float64)
    y, s = ours(x)
    y1, s1 = ours(x[:, :4])
    y2, s2 = ours(x[:, 4:], s1)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y, atol=1e-12, rtol=0)
    for a, b in zip(flat_state(s2), flat_state(s)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert y.shape == (B, 10, H)
    assert all(v.shape == (2, B, H) for v in flat_state(s))


@pytest.mark.parametrize("kind", KINDS)
def test_no_grad_inference_matches(kind):
    ours, theirs = make_pair(kind, num_layers=2)
    x = torch.randn(B, T, I, dtype=torch.float64)
    with torch.no_grad():
        got, want = ours(x), theirs(x)
    torch.testing.assert_close(got[0], want[0], atol=1e-10, rtol=1e-9)
    assert not got[0].requires_grad


@pytest.mark.parametrize("cell_cls, torch_cls", [(RNNCell, nn.RNNCell), (GRUCell, nn.GRUCell), (LSTMCell, nn.LSTMCell)])
def test_cells_equal_torch_cells(cell_cls, torch_cls):
    torch.manual_seed(0)
    ours, theirs = cell_cls(I, H).double(), torch_cls(I, H).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours, name).copy_(getattr(theirs, name))
    x_t = torch.randn(B, I, dtype=torch.float64)
    if cell_cls is LSTMCell:
        state = (torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64))
        for a, b in zip(ours(x_t, state), theirs(x_t, state)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    else:
        h = torch.randn(B, H, dtype=torch.float64)
        torch.testing.assert_close(ours(x_t, h), theirs(x_t, h), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("fast", [True, False])
def test_gradcheck_inputs_and_weights(kind, fast):
    """Finite differences for x, the initial state and every weight of a tiny 2-layer model."""
    torch.manual_seed(3)
    cls, cfg = (GRU, GRUConfig) if kind == "gru" else (LSTM, LSTMConfig)
    ours = cls(cfg(input_size=2, hidden_size=3, num_layers=2, fast=fast)).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    state = [torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True) for _ in range(2 if kind == "lstm" else 1)]
    names = [n for n, _ in ours.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in ours.parameters()]

    def f(x, *rest):
        st, ps = rest[:len(state)], rest[len(state):]
        y, s = functional_call(ours, dict(zip(names, ps)), (x, tuple(st) if kind == "lstm" else st[0]))
        return (y, *flat_state(s))

    assert torch.autograd.gradcheck(f, (x, *state, *params))


def test_gradcheck_hand_written_bptt():
    """LSTMRecurrence.backward against finite differences, for every input of the Function."""
    torch.manual_seed(0)
    h = 3
    xw = torch.randn(2, 4, 4 * h, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, h, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, h, dtype=torch.float64, requires_grad=True)
    w = (0.5 * torch.randn(4 * h, h, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(LSTMRecurrence.apply, (xw, h0, c0, w, True))


@pytest.mark.parametrize("kind", KINDS)
def test_copy_from_torch_and_to_torch(kind):
    ours, theirs = make_pair(kind, num_layers=2)
    back = ours.to_torch()
    assert type(back) is type(theirs) and back.batch_first
    for (n1, p1), (n2, p2) in zip(back.named_parameters(), theirs.named_parameters()):
        assert n1 == n2 and p1.dtype == torch.float64
        torch.testing.assert_close(p1, p2, atol=0, rtol=0)
    # initialisation like torch: uniform in +-1/sqrt(H), and actually spread over that range
    k = 1 / H ** 0.5
    fresh = torch.cat([p.flatten() for p in type(ours)(ours.config).parameters()])
    assert fresh.abs().max() <= k and fresh.max() > 0.9 * k and fresh.min() < -0.9 * k


@pytest.mark.parametrize("kind", KINDS)
def test_copy_from_torch_mismatch(kind):
    ours, _ = make_pair(kind, num_layers=2)
    torch_cls = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
    for bad, what in [(torch_cls(I, H + 1, 2, batch_first=True), "hidden_size"),
                      (torch_cls(I + 1, H, 2, batch_first=True), "input_size"),
                      (torch_cls(I, H, 3, batch_first=True), "num_layers"),
                      (torch_cls(I, H, 2, batch_first=False), "batch_first"),
                      (torch_cls(I, H, 2, batch_first=True, bidirectional=True), "bidirectional")]:
        with pytest.raises(ValueError, match=what):
            ours.copy_from_torch(bad)
    if kind.startswith("rnn"):
        other = "relu" if kind == "rnn_tanh" else "tanh"
        with pytest.raises(ValueError, match="nonlinearity"):
            ours.copy_from_torch(nn.RNN(I, H, 2, nonlinearity=other, batch_first=True))
    wrong_cls = nn.GRU if kind == "lstm" else nn.LSTM
    with pytest.raises(TypeError, match=torch_cls.__name__):
        ours.copy_from_torch(wrong_cls(I, H, 2, batch_first=True))


def test_no_torch_recurrent_modules_inside():
    for kind in KINDS:
        ours, _ = make_pair(kind, num_layers=2)
        assert not any(isinstance(m, (nn.RNNBase, nn.RNNCellBase)) for m in ours.modules())


@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs(kind):
    ours, _ = make_pair(kind, num_layers=2, dtype=torch.float32)
    with pytest.raises(ValueError, match=rf"\(batch, time, {I}\)"):
        ours(torch.randn(B, I))                       # rank 2
    with pytest.raises(ValueError, match=rf"\(batch, time, {I}\)"):
        ours(torch.randn(B, T, I + 1))                # wrong feature size
    with pytest.raises(TypeError, match=rf"\(batch, time, {I}\)"):
        ours(torch.randint(0, 5, (B, T, I)))          # integer dtype
    with pytest.raises(ValueError, match="empty sequence"):
        ours(torch.randn(B, 0, I))                    # T = 0
    x = torch.randn(B, T, I)
    want = rf"\(2, {B}, {H}\)"
    bad = torch.randn(1, B, H)                        # wrong number of layers
    with pytest.raises(ValueError, match=want):
        ours(x, (bad, torch.zeros(2, B, H)) if kind == "lstm" else bad)
    bad = torch.randn(2, B + 1, H)                    # wrong batch
    with pytest.raises(ValueError, match=want):
        ours(x, (torch.zeros(2, B, H), bad) if kind == "lstm" else bad)
    with pytest.raises(TypeError, match=want):
        ours(x, (torch.zeros(2, B, H), [0.0]) if kind == "lstm" else [0.0])


def test_lstm_state_must_be_a_tuple():
    ours, _ = make_pair("lstm", num_layers=2, dtype=torch.float32)
    x = torch.randn(B, T, I)
    for bad in (torch.zeros(2, B, H), [torch.zeros(2, B, H), torch.zeros(2, B, H)], (torch.zeros(2, B, H),)):
        with pytest.raises(TypeError, match=rf"\(2, batch, {H}\)"):
            ours(x, bad)


@pytest.mark.parametrize("cell", [RNNCell(I, H), GRUCell(I, H)])
def test_cell_bad_inputs(cell):
    with pytest.raises(ValueError, match=rf"\(batch, {I}\)"):
        cell(torch.randn(B, I + 1), torch.zeros(B, H))
    with pytest.raises(ValueError, match=rf"\({B}, {H}\)"):
        cell(torch.randn(B, I), torch.zeros(B, H + 1))


def test_lstm_cell_bad_state():
    cell = LSTMCell(I, H)
    with pytest.raises(TypeError, match=rf"\(batch, {H}\)"):
        cell(torch.randn(B, I), torch.zeros(B, H))
    with pytest.raises(ValueError, match=rf"\({B}, {H}\)"):
        cell(torch.randn(B, I), (torch.zeros(B, H), torch.zeros(B, H + 1)))


def test_config_validation():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNConfig(I, H, nonlinearity="sigmoid")
    for cfg in (RNNConfig, GRUConfig, LSTMConfig):
        with pytest.raises(ValueError, match="hidden_size"):
            cfg(I, 0)
        with pytest.raises(ValueError, match="num_layers"):
            cfg(I, H, num_layers=0)
