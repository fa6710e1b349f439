"""Tests for cnn_core.combination: Bouvrie's learned combinations of feature maps (§3.3)."""

import functools

import numpy as np
import pytest

import cnn_core as cc
from cnn_core.combination import (LENET5_C3_TABLE, MapCombination, connection_table,
                                  entropy_penalty, l1_penalty_on_alpha,
                                  l1_penalty_on_relu_weights)

TOL = 1e-7

CONFIGS = [
    dict(in_maps=3, out_maps=4, kernel_size=3, padding=0, stride=1, hw=(6, 5)),
    dict(in_maps=2, out_maps=5, kernel_size=(3, 2), padding=1, stride=1, hw=(5, 6)),
    dict(in_maps=4, out_maps=2, kernel_size=3, padding="same", stride=1, hw=(5, 5)),
    dict(in_maps=3, out_maps=3, kernel_size=2, padding=(1, 0), stride=2, hw=(7, 6)),
    dict(in_maps=1, out_maps=3, kernel_size=1, padding=0, stride=1, hw=(3, 4)),
    dict(in_maps=5, out_maps=1, kernel_size=(4, 4), padding="valid", stride=1, hw=(4, 4)),
]


def make_layer(cfg, rng, weighting="softmax", **extra):
    layer = MapCombination(cfg["in_maps"], cfg["out_maps"], cfg["kernel_size"], rng=rng,
                           padding=cfg["padding"], stride=cfg["stride"], weighting=weighting,
                           **extra)
    # Spread the mixing parameters and biases so that no check passes because of symmetry.
    c = rng.standard_normal(layer.params["c"].shape)
    if weighting == "relu":  # keep clear of the kink at 0, where relu has no derivative
        c = np.sign(c) * (0.1 + np.abs(c))
    layer.params["c"][...] = c
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal((2, cfg["in_maps"], *cfg["hw"]))
    return layer, x


def naive_forward(layer, x):
    """u_j = sum_i alpha_ij (x_i ⋆ k_i) + b_j with one 2-D cross-correlation per (image, map):
    loops over images and maps, straight from the formula (padding and stride applied by hand)."""
    (pt, pb), (pl, pr) = cc.resolve_padding(layer.padding, layer.kernel_size, (1, 1),
                                            cc.shapes.as_pair(layer.stride, "stride"))
    sh, sw = cc.shapes.as_pair(layer.stride, "stride")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    k, alpha, b = layer.params["k"], layer.alpha, layer.params["b"]
    n, c_in = x.shape[:2]
    y = np.stack([np.stack([cc.correlate2d(xp[s, i], k[i, 0])[::sh, ::sw] for i in range(c_in)])
                  for s in range(n)])
    out = np.zeros((n, alpha.shape[1], *y.shape[2:]))
    for s in range(n):
        for j in range(alpha.shape[1]):
            for i in range(c_in):
                out[s, j] += alpha[i, j] * y[s, i]
            out[s, j] += b[j]
    return out


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("weighting", ["softmax", "relu"])
def test_forward_matches_naive_loops(cfg, weighting):
    rng = np.random.default_rng(1)
    layer, x = make_layer(cfg, rng, weighting)
    np.testing.assert_allclose(layer.forward(x), naive_forward(layer, x), rtol=1e-12, atol=1e-12)


def test_forward_is_bouvries_true_convolution_with_rotated_kernels():
    # The notes: x_j = f(sum_i alpha_ij (x_i * k_i) + b_j), * = MATLAB conv2 (kernel flipped), valid.
    rng = np.random.default_rng(2)
    layer, x = make_layer(CONFIGS[0], rng)
    k_bouvrie = cc.rot180(layer.params["k"][:, 0])         # the kernels the notes would store
    alpha, b = layer.alpha, layer.params["b"]
    for s in range(x.shape[0]):
        for j in range(alpha.shape[1]):
            u = sum(alpha[i, j] * cc.convolve2d(x[s, i], k_bouvrie[i], "valid")
                    for i in range(x.shape[1])) + b[j]
            np.testing.assert_allclose(layer.forward(x)[s, j], u, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_equals_conv2d_with_rank_one_kernels(cfg):
    # A MapCombination is the convolution whose kernel W[j, i] = alpha_ij k_i.
    rng = np.random.default_rng(3)
    layer, x = make_layer(cfg, rng)
    w = layer.alpha.T[:, :, None, None] * layer.params["k"][:, 0][None]
    expected = cc.conv2d(x, w, layer.params["b"], stride=cfg["stride"], padding=cfg["padding"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_forward_is_depthwise_then_pointwise():
    rng = np.random.default_rng(4)
    layer, x = make_layer(CONFIGS[1], rng)
    y = layer.depthwise(x)
    expected_y = np.concatenate([cc.conv2d(x[:, i:i + 1], layer.params["k"][i:i + 1], padding=1)
                                 for i in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(y, expected_y, rtol=1e-12, atol=1e-12)
    pointwise = cc.conv2d(y, layer.alpha.T[:, :, None, None], layer.params["b"])
    np.testing.assert_allclose(layer.forward(x), pointwise, rtol=1e-12, atol=1e-12)


def test_forward_matches_pytorch_grouped_convolution():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    layer, x = make_layer(CONFIGS[3], rng)
    xt = torch.tensor(x)
    depthwise = torch.nn.functional.conv2d(xt, torch.tensor(layer.params["k"]), stride=2,
                                           padding=(1, 0), groups=x.shape[1])
    pointwise = torch.nn.functional.conv2d(depthwise, torch.tensor(layer.alpha.T[:, :, None, None]),
                                           torch.tensor(layer.params["b"]))
    np.testing.assert_allclose(layer.forward(x), pointwise.numpy(), rtol=1e-12, atol=1e-12)


def test_softmax_weights_are_a_convex_combination():
    rng = np.random.default_rng(6)
    layer = MapCombination(6, 16, 3, rng=rng)
    layer.params["c"][...] = 30 * rng.standard_normal((6, 16))
    alpha = layer.alpha
    assert alpha.shape == (6, 16)
    assert (alpha >= 0).all() and (alpha <= 1).all()
    np.testing.assert_allclose(alpha.sum(axis=0), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(alpha, np.exp(layer.params["c"]) / np.exp(layer.params["c"]).sum(0),
                               rtol=1e-12, atol=1e-300)


def test_initial_weights_are_nearly_uniform():
    rng = np.random.default_rng(7)
    for weighting in ("softmax", "relu"):
        alpha = MapCombination(4, 3, 3, rng=rng, weighting=weighting).alpha
        np.testing.assert_allclose(alpha, 0.25, atol=0.05)


# ----------------------------------------------------------------------------- backward


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("weighting", ["softmax", "relu"])
def test_gradients_match_central_differences(cfg, weighting):
    rng = np.random.default_rng(8)
    layer, x = make_layer(cfg, rng, weighting)
    report = cc.check_layer_gradients(layer, x, rng=rng)
    assert [name for name, _, _ in report.rows] == ["x", "k", "c", "b"]
    report.assert_ok(TOL)


def test_gradient_check_catches_a_wrong_softmax_backward():
    # The check must be able to fail: drop the softmax Jacobian from dE/dc.
    rng = np.random.default_rng(9)
    layer, x = make_layer(CONFIGS[0], rng)

    class Broken(MapCombination):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["c"][...] = np.einsum("njhw,nihw->ij", dout, self.y)  # dE/dalpha, not dE/dc
            return dx

    broken = Broken(3, 4, 3, rng=np.random.default_rng(0))
    for name in ("k", "c", "b"):
        broken.params[name][...] = layer.params[name]
    with pytest.raises(AssertionError, match="c: relative error"):
        cc.check_layer_gradients(broken, x, rng=rng).assert_ok(TOL)


def test_bouvries_sensitivity_formulas():
    # dE/dalpha_i = sum_uv (delta ∘ (x_i * k_i))_uv and
    # dE/dc_i = sum_k dE/dalpha_k dalpha_k/dc_i = alpha_i (dE/dalpha_i - sum_k dE/dalpha_k alpha_k),
    # written with explicit Jacobians, one output map at a time.
    rng = np.random.default_rng(10)
    layer, x = make_layer(CONFIGS[0], rng)
    u = layer.forward(x)
    delta = rng.standard_normal(u.shape)
    layer.backward(delta)
    y = layer.depthwise(x)
    alpha = layer.alpha
    for j in range(alpha.shape[1]):
        dalpha = np.array([(delta[:, j] * y[:, i]).sum() for i in range(x.shape[1])])
        jac = np.diag(alpha[:, j]) - np.outer(alpha[:, j], alpha[:, j])  # [k, i] = dalpha_k/dc_i
        np.testing.assert_allclose(jac, cc.softmax_jacobian(layer.params["c"][:, j]), atol=1e-15)
        dc = jac.T @ dalpha
        np.testing.assert_allclose(dc, alpha[:, j] * (dalpha - dalpha @ alpha[:, j]), atol=1e-13)
        np.testing.assert_allclose(layer.grads["c"][:, j], dc, rtol=1e-10, atol=1e-13)


def test_softmax_derivative_by_central_differences():
    rng = np.random.default_rng(11)
    c = rng.standard_normal(5)
    alpha = cc.softmax(c)
    formula = np.diag(alpha) - np.outer(alpha, alpha)          # [k, i] = dalpha_k / dc_i
    numeric = np.stack([cc.numerical_gradient(lambda z: cc.softmax(z)[k], c.copy())
                        for k in range(5)])
    assert cc.rel_error(formula, numeric) < TOL


def test_backward_rejects_bad_input():
    rng = np.random.default_rng(12)
    layer, x = make_layer(CONFIGS[0], rng)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((2, 4, 4, 3)))
    layer.forward(x)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 4, 4, 3\)"):
        layer.backward(np.zeros((2, 3, 4, 3)))


# ----------------------------------------------------------------------------- penalties


def logits(rng, shape=(6, 16), scale=1.0):
    return scale * rng.standard_normal(shape)


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_notes_l1_penalty_on_softmax_weights_is_constant(scale):
    rng = np.random.default_rng(13)
    lam = 0.3
    for _ in range(5):
        c = logits(rng, scale=scale)
        value, grad = l1_penalty_on_alpha(c, lam)
        assert value == pytest.approx(lam * c.shape[1], rel=1e-14)
        assert np.abs(grad).max() < 1e-15                         # the notes' formula: zero
        numeric = cc.numerical_gradient(lambda z: l1_penalty_on_alpha(z, lam)[0], c.copy())
        assert np.abs(numeric).max() < 1e-8                       # the true gradient: zero
        chain_rule = cc.softmax_backward(lam * np.sign(cc.softmax(c, axis=0)),
                                         cc.softmax(c, axis=0), axis=0)
        assert np.abs(chain_rule).max() < 1e-15


def test_notes_l1_formula_is_the_chain_rule_for_any_signs():
    # The notes' lambda (|a_i| - a_i sum_k |a_k|) is sum_k lambda sign(a_k) J_ki with the softmax
    # Jacobian J — right in general; it only vanishes because softmax weights are positive.
    rng = np.random.default_rng(14)
    a = rng.standard_normal(7)                  # any weights, some negative
    jac = np.diag(a) - np.outer(a, a)
    notes = np.abs(a) - a * np.abs(a).sum()
    np.testing.assert_allclose(jac.T @ np.sign(a), notes, rtol=1e-12, atol=1e-14)
    assert np.abs(notes).max() > 0.1


def test_entropy_penalty_value_and_gradient():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(15)
    lam = 0.7
    for scale in (0.1, 1.0, 5.0):
        c = logits(rng, (5, 4), scale)
        value, grad = entropy_penalty(c, lam)
        alpha = cc.softmax(c, axis=0)
        assert value == pytest.approx(lam * scipy_stats.entropy(alpha, axis=0).sum(), rel=1e-12)
        numeric = cc.numerical_gradient(lambda z: entropy_penalty(z, lam)[0], c.copy())
        assert cc.rel_error(grad, numeric) < TOL


def test_entropy_penalty_limits():
    c_uniform = np.zeros((6, 3))
    value, grad = entropy_penalty(c_uniform, 1.0)
    assert value == pytest.approx(3 * np.log(6), rel=1e-14)     # the maximum, log C_in per column
    assert np.abs(grad).max() < 1e-15                             # and a stationary point
    c_onehot = np.full((6, 3), -800.0)
    c_onehot[0] = 800.0                                           # alpha underflows to 0 and 1
    value, grad = entropy_penalty(c_onehot, 1.0)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value == pytest.approx(0.0, abs=1e-300)


def test_relu_l1_penalty_value_and_gradient():
    rng = np.random.default_rng(16)
    c = logits(rng, (4, 5))
    c = np.sign(c) * (0.1 + np.abs(c))
    value, grad = l1_penalty_on_relu_weights(c, 0.2)
    assert value == pytest.approx(0.2 * c[c > 0].sum(), rel=1e-14)
    numeric = cc.numerical_gradient(lambda z: l1_penalty_on_relu_weights(z, 0.2)[0], c.copy())
    assert cc.rel_error(grad, numeric) < TOL
    assert set(np.unique(grad)) == {0.0, 0.2}


@pytest.mark.parametrize("penalty", [l1_penalty_on_alpha, entropy_penalty,
                                     l1_penalty_on_relu_weights])
def test_penalties_reject_bad_input(penalty):
    with pytest.raises(ValueError, match=r"c must be a 2-D array \(C_in, C_out\).*got shape \(6,\)"):
        penalty(np.zeros(6), 0.1)
    with pytest.raises(ValueError, match="lam must be >= 0; got -1"):
        penalty(np.zeros((6, 2)), -1)
    for bad in (float("nan"), float("inf")):        # inf would give a NaN gradient (0 * inf)
        with pytest.raises(ValueError, match=f"lam must be a finite real number and be >= 0; "
                                             f"got {bad}"):
            penalty(np.zeros((6, 2)), bad)
    for bad in ("0.1", None):
        with pytest.raises(TypeError, match=f"lam must be a finite real number.*got {bad!r}"):
            penalty(np.zeros((6, 2)), bad)
    with pytest.raises(TypeError, match="c must be a real numeric array"):
        penalty(np.array([["a"]]), 0.1)


@pytest.mark.parametrize("weighting, penalty", [
    ("softmax", functools.partial(entropy_penalty, lam=0.5)),
    ("softmax", functools.partial(l1_penalty_on_alpha, lam=0.5)),
    ("relu", functools.partial(l1_penalty_on_relu_weights, lam=0.5)),
])
def test_attached_penalty_adds_its_gradient(weighting, penalty):
    rng = np.random.default_rng(17)
    plain, x = make_layer(CONFIGS[1], rng, weighting)
    penalised = MapCombination(2, 5, (3, 2), rng=rng, padding=1, weighting=weighting,
                               penalty=penalty)
    for name in ("k", "c", "b"):
        penalised.params[name][...] = plain.params[name]
    dout = rng.standard_normal(plain.forward(x).shape)
    penalised.forward(x)
    dx_plain, dx_pen = plain.backward(dout), penalised.backward(dout)
    np.testing.assert_array_equal(dx_plain, dx_pen)
    np.testing.assert_allclose(penalised.grads["c"],
                               plain.grads["c"] + penalty(plain.params["c"])[1], rtol=1e-14)
    assert penalised.penalty_value() == penalty(plain.params["c"])[0]
    assert plain.penalty_value() == 0.0
    # And E + Omega really has that gradient with respect to c:
    c = penalised.params["c"]
    numeric = cc.numerical_gradient(
        lambda _: float((penalised.forward(x) * dout).sum()) + penalised.penalty_value(), c)
    assert cc.rel_error(penalised.grads["c"], numeric) < TOL


def test_training_with_the_notes_penalty_changes_nothing():
    d = cc.data.load_digits()
    x, y = d.x_train[:256], d.y_train[:256]

    def train(penalty):
        rng = np.random.default_rng(0)
        comb = MapCombination(4, 6, 3, rng=rng, padding=1, penalty=penalty)
        model = cc.Sequential(cc.Conv2D(1, 4, 3, padding=1, rng=rng), cc.ReLU(), comb, cc.ReLU(),
                              cc.MaxPool2D(2), cc.Flatten(), cc.Dense(96, 10, rng=rng))
        cc.fit(model, x, y, optimizer=cc.SGD(model, lr=0.1, momentum=0.9), epochs=2,
               batch_size=32, rng=np.random.default_rng(1), progress=False)
        return comb

    plain, notes = train(None), train(functools.partial(l1_penalty_on_alpha, lam=1.0))
    entropy = train(functools.partial(entropy_penalty, lam=1.0))
    np.testing.assert_allclose(notes.params["c"], plain.params["c"], rtol=0, atol=1e-12)
    assert np.abs(entropy.params["c"] - plain.params["c"]).max() > 1e-3  # a real penalty acts


# ----------------------------------------------------------------------------- tables


def test_lenet5_c3_table():
    t = LENET5_C3_TABLE
    assert t.shape == (6, 16) and t.dtype == bool
    assert t.sum() == 60
    np.testing.assert_array_equal(t.sum(axis=0), [3] * 6 + [4] * 9 + [6])
    for j in range(6):       # three contiguous maps (cyclically), starting at map j
        assert set(np.flatnonzero(t[:, j])) == {j % 6, (j + 1) % 6, (j + 2) % 6}
    for j in range(6):       # four contiguous maps
        assert set(np.flatnonzero(t[:, 6 + j])) == {(j + s) % 6 for s in range(4)}
    for j in range(12, 15):  # four maps that are not contiguous
        rows = set(np.flatnonzero(t[:, j]))
        assert not any(rows == {(s + r) % 6 for r in range(4)} for s in range(6))
    # C3's 1,516 trainable parameters (LeCun et al. 1998): a 5x5 kernel per connection + a bias.
    assert 25 * t.sum() + t.shape[1] == 1516
    with pytest.raises(ValueError):
        t[0, 0] = False


def test_connection_table():
    alpha = np.array([[0.5, 0.0, 2.0],
                      [0.495, 0.0, 0.0],
                      [0.005, 0.0, 2.0]])
    np.testing.assert_array_equal(connection_table(alpha),
                                  [[True, False, True], [True, False, False], [False, False, True]])
    np.testing.assert_array_equal(connection_table(alpha, 0.4)[:, 0], [True, True, False])
    with pytest.raises(ValueError, match="alpha must be non-negative.*found a negative entry"):
        connection_table(-alpha)
    with_nan = alpha.copy()
    with_nan[1, 1] = np.nan                          # NaN >= 0 is False: no silent table
    with pytest.raises(ValueError, match="alpha must be non-negative and not NaN.*found NaN"):
        connection_table(with_nan)
    for bad in ("0.1", None):
        with pytest.raises(TypeError, match=f"threshold must be a finite real number.*{bad!r}"):
            connection_table(alpha, bad)
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\); got 1.5"):
        connection_table(alpha, 1.5)
    with pytest.raises(ValueError, match=r"alpha must be a 2-D array.*got shape \(3,\)"):
        connection_table(alpha[0])


# ----------------------------------------------------------------------------- bad input


def test_constructor_rejects_bad_arguments():
    rng = np.random.default_rng(18)
    with pytest.raises(ValueError, match="in_maps must be a positive int; got 0"):
        MapCombination(0, 4, 3, rng=rng)
    with pytest.raises(ValueError, match="out_maps must be a positive int; got 2.5"):
        MapCombination(3, 2.5, 3, rng=rng)
    with pytest.raises(ValueError, match="weighting must be one of .*got 'sigmoid'"):
        MapCombination(3, 4, 3, rng=rng, weighting="sigmoid")
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        MapCombination(3, 4, (3, 3, 3), rng=rng)
    with pytest.raises(ValueError, match="padding must be an int, a pair"):
        MapCombination(3, 4, 3, rng=rng, padding="circular")
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        MapCombination(3, 4, 3, rng=0)
    with pytest.raises(TypeError, match="penalty must be None or a callable"):
        MapCombination(3, 4, 3, rng=rng, penalty=0.1)


def test_forward_rejects_bad_input():
    layer = MapCombination(3, 4, 3, rng=np.random.default_rng(19))
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C_in, H, W\); got shape \(3, 8, 8\)"):
        layer.forward(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"expects x of shape \(N, 3, H, W\).*got \(2, 6, 8, 8\)"):
        layer.forward(np.zeros((2, 6, 8, 8)))
    with pytest.raises(ValueError, match="kernel height 3 .* larger than the padded input height 2"):
        layer.forward(np.zeros((1, 3, 2, 8)))
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        layer.forward(np.zeros((1, 3, 4, 4), dtype=complex))


def test_repr():
    rng = np.random.default_rng(20)
    assert repr(MapCombination(6, 16, 5, rng=rng)) == "MapCombination(6, 16, kernel_size=(5, 5))"
    assert (repr(MapCombination(6, 16, 3, rng=rng, padding=1, weighting="relu"))
            == "MapCombination(6, 16, kernel_size=(3, 3), padding=1, weighting='relu')")
