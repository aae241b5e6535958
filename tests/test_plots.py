"""Tests for rvt_lib.plots (Agg backend, nothing shown)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rvt_lib.plots import (MODEL_COLORS, _colors, color_for, loss_curves,  # noqa: E402
                           mean_std_bar, plot_loglog, style)
from rvt_lib.train import History  # noqa: E402

WHITE = (1.0, 1.0, 1.0, 1.0)


@pytest.fixture(autouse=True)
def book_style():
    with matplotlib.rc_context():
        style()
        yield
        plt.close("all")


def assert_white_and_labelled(ax):
    assert mcolors.to_rgba(ax.figure.get_facecolor()) == WHITE
    assert mcolors.to_rgba(ax.get_facecolor()) == WHITE
    assert ax.get_xlabel() and ax.get_ylabel()


def fake_history(losses, seconds_per_step):
    steps = list(range(10, 10 * len(losses) + 1, 10))
    return History(train_steps=steps, train_loss=[l + 0.1 for l in losses],
                   train_seconds=[s * seconds_per_step for s in steps],
                   val_steps=steps, val_loss=list(losses),
                   val_seconds=[s * seconds_per_step for s in steps])


def test_style_sets_solid_white_backgrounds():
    assert mcolors.to_rgba(matplotlib.rcParams["savefig.facecolor"]) == WHITE
    assert matplotlib.rcParams["axes.grid"]
    fig, ax = plt.subplots()
    assert mcolors.to_rgba(fig.get_facecolor()) == WHITE
    assert mcolors.to_rgba(ax.get_facecolor()) == WHITE
    assert mcolors.to_hex(ax._get_lines.get_next_color()) == "#0072b2"  # the Okabe-Ito cycle


def test_plot_loglog_annotates_slopes():
    x = [64, 128, 256, 512]
    ax, slopes = plot_loglog(x, {"gpt": [xi ** 2 for xi in x], "mingru": [xi * 0.5 for xi in x],
                                 "lstm": [1.0, 2.0, None, None]},          # ran out of memory
                             xlabel="sequence length (tokens)", ylabel="time per step (ms)")
    assert slopes["gpt"] == pytest.approx(2.0) and slopes["mingru"] == pytest.approx(1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gpt (slope 2.00)" in labels and "mingru (slope 1.00)" in labels
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "sequence length (tokens)"
    assert_white_and_labelled(ax)


def test_loss_curves_steps_and_seconds():
    hists = {"GRU": fake_history([2.0, 1.5, 1.2], 0.01), "GPT": fake_history([2.1, 1.4, 1.0], 0.03)}
    ax = loss_curves(hists)
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "validation loss (nats/token)"
    lines = ax.get_lines()
    assert len(lines) == 2
    assert mcolors.to_hex(lines[0].get_color()) == MODEL_COLORS["gru"].lower()
    assert mcolors.to_hex(lines[1].get_color()) == MODEL_COLORS["gpt"].lower()
    assert_white_and_labelled(ax)

    ax2 = loss_curves(hists, x="seconds", which="both")
    assert ax2.get_xlabel() == "training time (s)"
    assert len(ax2.get_lines()) == 4
    assert list(ax2.get_lines()[0].get_xdata()) == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="x must be"):
        loss_curves(hists, x="epochs")


def test_loss_curves_falls_back_to_train_loss():
    h = History(train_steps=[1, 2], train_loss=[1.0, 0.5], train_seconds=[0.1, 0.2])
    ax = loss_curves({"rnn": h}, ylabel="train loss (nats/token)")
    assert len(ax.get_lines()) == 1 and ax.get_legend().get_texts()[0].get_text() == "rnn (train)"


def test_colors_per_kind_and_duplicates():
    assert color_for("minGRU (h=64)") == MODEL_COLORS["mingru"]
    assert color_for("minLSTM") == MODEL_COLORS["minlstm"]
    assert color_for("LSTM") == MODEL_COLORS["lstm"]
    assert color_for("ARIMA") is None
    cols = _colors(["gru h=32", "gru h=64", "gpt"])
    assert len(set(cols)) == 3 and cols[2] == MODEL_COLORS["gpt"]


def test_mean_std_bar_over_seeds():
    df = pd.DataFrame({"model": ["gru"] * 3 + ["gpt"] * 3 + ["rnn"],
                       "seed": [0, 1, 2, 0, 1, 2, 0],
                       "val loss (nats/token)": [1.0, 1.2, 1.4, 0.8, 0.9, 1.0, 2.0]})
    ax = mean_std_bar(df, value="val loss (nats/token)")
    bars = ax.patches
    assert [b.get_height() for b in bars] == pytest.approx([1.2, 0.9, 2.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gru", "gpt", "rnn"]
    assert ax.get_ylabel() == "val loss (nats/token)" and ax.get_xlabel() == "model"
    # error bars: gru's spans mean +- sample std = 1.2 +- 0.2
    segs = [c for c in ax.containers if hasattr(c, "errorbar") and c.errorbar is not None]
    (_, _, (vline,)) = segs[0].errorbar.lines
    (ylo, yhi) = vline.get_segments()[0][:, 1]
    assert (ylo, yhi) == pytest.approx((1.0, 1.4))
    assert_white_and_labelled(ax)

    df["seq_len"] = [64, 64, 64, 64, 64, 64, 64]
    df2 = pd.concat([df, df.assign(seq_len=256)])
    ax2 = mean_std_bar(df2, value="val loss (nats/token)", hue="seq_len")
    assert len(ax2.patches) == 6
    with pytest.raises(ValueError, match="no column"):
        mean_std_bar(df, value="accuracy")
