"""Tests for rvt_lib.gradients: gradient norms through time, checked against cases whose
answer is known in closed form and against an explicit product of Jacobians."""
import pytest
import torch
import torch.nn as nn

from rvt_lib.gradients import (input_gradient_norms, set_spectral_radius_, spectral_radius,
                               state_gradient_norms)
from rvt_lib.models.lstm import LSTM, LSTMConfig
from rvt_lib.models.rnn import RNN, RNNCell, RNNConfig


class ScalarLinearCell(nn.Module):
    """h_t = a * h_{t-1} + x_t: every step multiplies the gradient by exactly a."""

    def __init__(self, size: int, a: float):
        super().__init__()
        self.input_size = self.hidden_size = size
        self.a = a

    def forward(self, x_t, h):
        return self.a * h + x_t


class ScalarLinearCore(nn.Module):
    def __init__(self, size: int, a: float):
        super().__init__()
        self.cell = ScalarLinearCell(size, a)
        self.input_size = self.hidden_size = size

    def forward(self, x, state=None):
        h = x.new_zeros(x.shape[0], x.shape[2]) if state is None else state
        ys = []
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
            ys.append(h)
        return torch.stack(ys, 1), h


def inputs(B=3, T=12, D=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, D, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("a", [0.5, 1.0, 1.7])
def test_linear_cell_norms_are_powers_of_a(a):
    x = inputs()
    T = x.shape[1]
    expected = torch.tensor([a ** (T - 1 - t) for t in range(T)], dtype=torch.float64)
    got = state_gradient_norms(ScalarLinearCell(5, a), x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    got_x = input_gradient_norms(ScalarLinearCore(5, a), x)
    torch.testing.assert_close(got_x, expected, rtol=1e-12, atol=0)


def test_rnn_matches_explicit_jacobian_product():
    torch.manual_seed(0)
    cell = RNNCell(4, 6).double()
    x = inputs(B=1, T=7, D=4)
    hs = [torch.zeros(1, 6, dtype=torch.float64)]
    for t in range(7):
        hs.append(cell(x[:, t], hs[-1]).detach())
    # u^T J_{T-1} ... J_{t+1}, with J_s = d h_s / d h_{s-1} from autograd.functional
    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, 6, generator=g, dtype=torch.float64)
    u = (u / u.norm())[0]
    expected, v = [0.0] * 7, u.clone()
    for t in range(6, -1, -1):
        expected[t] = v.norm().item()
        if t > 0:
            J = torch.autograd.functional.jacobian(lambda h: cell(x[:, t], h[None])[0], hs[t][0])
            v = v @ J
    got = state_gradient_norms(cell, x)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-10, atol=1e-14)
    assert got[-1].item() == pytest.approx(1.0, abs=1e-12)


def test_lstm_state_includes_the_cell():
    torch.manual_seed(1)
    core = LSTM(LSTMConfig(3, 4)).double()
    x = inputs(B=2, T=6, D=3)
    got = state_gradient_norms(core, x, reduce="none")
    assert got.shape == (2, 6)
    # manual: retain the gradient of every h_t and c_t
    cell, h, c, hs, cs = core.cells[0], *(torch.zeros(2, 4, dtype=torch.float64, requires_grad=True),) * 2, [], []
    for t in range(6):
        h, c = cell(x[:, t], (h, c))
        h.retain_grad(), c.retain_grad()
        hs.append(h), cs.append(c)
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 4, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    (u * hs[-1]).sum().backward()
    manual = torch.stack([(hs[t].grad.pow(2).sum(1) + cs[t].grad.pow(2).sum(1)).sqrt() for t in range(6)], 1)
    torch.testing.assert_close(got, manual, rtol=1e-12, atol=1e-15)
    assert (got[:, -1] > 1.0).all()  # the last step counts dL/dc_{T-1} too


def test_initial_state_and_frozen_parameters():
    torch.manual_seed(2)
    core = RNN(RNNConfig(5, 5)).double().requires_grad_(False)
    x = inputs(D=5)
    h0 = torch.randn(3, 5, dtype=torch.float64)
    a = state_gradient_norms(core, x, h0)
    b = state_gradient_norms(core, x)
    assert a.shape == (12,) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        state_gradient_norms(core, x, torch.zeros(2, 5, dtype=torch.float64))


def test_vanishing_and_exploding_with_spectral_radius():
    torch.manual_seed(3)
    x = 0.1 * inputs(B=4, T=60, D=16).float()
    ends = {}
    for rho in (0.5, 3.0):
        rnn = RNN(RNNConfig(16, 16, bias=False))
        nn.init.normal_(rnn.cells[0].weight_hh)
        set_spectral_radius_(rnn.cells[0].weight_hh, rho)
        assert spectral_radius(rnn.cells[0].weight_hh) == pytest.approx(rho, rel=1e-5)
        ends[rho] = state_gradient_norms(rnn, x)[0].item()
    assert ends[0.5] < 1e-10 and ends[3.0] > 1e2  # vanished vs exploded over 59 steps


def test_input_gradients_of_a_causal_gpt():
    from rvt_lib.models.gpt import GPT, GPTConfig
    torch.manual_seed(4)
    core = GPT(GPTConfig(d_model=8, n_layer=1, n_head=2, block_size=16)).double()
    x = inputs(B=2, T=10, D=8)
    got = input_gradient_norms(core, x, reduce="none")
    assert got.shape == (2, 10) and (got > 0).all()  # attention reaches every earlier input


def test_bad_inputs():
    cell = RNNCell(4, 4)
    with pytest.raises(ValueError, match="batch, time, 4"):
        state_gradient_norms(cell, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch, time, 4"):
        state_gradient_norms(cell, torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="empty"):
        state_gradient_norms(cell, torch.zeros(2, 0, 4))
    with pytest.raises(TypeError):
        state_gradient_norms(cell, torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="reduce"):
        state_gradient_norms(cell, torch.zeros(2, 3, 4), reduce="sum")
    with pytest.raises(ValueError, match="one-layer"):
        state_gradient_norms(RNN(RNNConfig(4, 4, num_layers=2)), torch.zeros(2, 3, 4))
    with pytest.raises(TypeError):
        state_gradient_norms(nn.Linear(4, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(8, 4))
    with pytest.raises(ValueError, match="radius"):
        set_spectral_radius_(torch.eye(3), -1.0)
    with pytest.raises(ValueError, match="batch, time, 4"):
        input_gradient_norms(RNN(RNNConfig(4, 4)), torch.zeros(2, 3, 3))


def test_gru_with_a_closed_update_gate_keeps_the_gradient():
    """z = 1 means h_t = h_{t-1}: the Jacobian is the identity and nothing decays."""
    from rvt_lib.models.gru import GRU, GRUConfig
    torch.manual_seed(5)
    core = GRU(GRUConfig(4, 6)).double()
    with torch.no_grad():
        core.cells[0].bias_ih[6:12] += 40.0  # z = sigmoid(40 + ...) = 1 to float64 precision
    got = state_gradient_norms(core, inputs(B=2, T=15, D=4))
    torch.testing.assert_close(got, torch.ones(15, dtype=torch.float64), rtol=1e-9, atol=0)
