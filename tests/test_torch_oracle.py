"""PyTorch as an independent oracle (skipped when torch is not importable): float64, torch's own
NCHW layout and weight layouts, forward values and every gradient, in the style of tinygrad's
``helper_test_op``. Max-pooling ties: cnn_core must route the gradient to the same element as torch."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc

torch = pytest.importorskip("torch")
F = torch.nn.functional
torch.set_num_threads(1)          # the test machine is shared; the tensors here are tiny


def helper_test_op(inputs, torch_fn, cc_fn, cc_grads=None, *, rtol=1e-10, atol=1e-10, seed=0,
                   grad_names=None):
    """Compare ``cc_fn(*inputs)`` with ``torch_fn(*tensors)`` and, when ``cc_grads`` is given, every
    gradient: a random upstream ``dout`` is back-propagated through torch, and
    ``cc_grads(dout, *inputs)`` must return one gradient per input (``None`` to skip one).

    ``inputs`` are float64 numpy arrays (``None`` entries are passed through as ``None``)."""
    tensors = [None if a is None else torch.tensor(a, dtype=torch.float64, requires_grad=cc_grads is not None)
               for a in inputs]
    out_t = torch_fn(*tensors)
    out_c = cc_fn(*inputs)
    assert out_c.shape == tuple(out_t.shape), f"forward shape {out_c.shape} != torch {tuple(out_t.shape)}"
    np.testing.assert_allclose(out_c, out_t.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    if cc_grads is None:
        return out_c
    dout = np.random.default_rng(seed).standard_normal(out_c.shape)
    out_t.backward(torch.tensor(dout))
    grads = cc_grads(dout, *inputs)
    assert len(grads) == len(inputs)
    names = grad_names or [f"input {i}" for i in range(len(inputs))]
    checked = 0
    for name, g, t in zip(names, grads, tensors):
        if g is None or t is None:
            continue
        assert g.shape == tuple(t.grad.shape), f"d{name}: shape {g.shape} != torch {tuple(t.grad.shape)}"
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of {name}")
        checked += 1
    assert checked >= 1
    return out_c


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _torch_padding(padding, kernel, dilation):
    """torch has no "full"; spell it out as d(k - 1) on every side."""
    if padding == "full":
        return tuple(d * (k - 1) for k, d in zip(kernel, _pair(dilation)))
    return padding


# ---------------------------------------------------------------------------------------------
# conv2d and conv2d_backward
# ---------------------------------------------------------------------------------------------

CONV_CASES = [
    pytest.param((2, 3, 6, 6), (4, 3, 3), 1, 0, 1, id="k3"),
    pytest.param((2, 2, 7, 6), (3, 2, 3), 2, 1, 1, id="stride2-pad1"),
    pytest.param((1, 2, 8, 9), (2, 3, 2), (2, 3), (1, 2), (2, 1), id="pairs-everywhere"),
    pytest.param((2, 3, 5, 7), (2, 3, 3), 1, "same", 1, id="same-odd"),
    pytest.param((1, 2, 6, 5), (3, 2, 4), 1, "same", (2, 1), id="same-even-dilated",
                 marks=pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")),
    pytest.param((1, 2, 5, 5), (2, 3, 3), 1, "valid", 1, id="valid"),
    pytest.param((1, 1, 4, 5), (2, 2, 3), 2, "full", 1, id="full-stride2"),
    pytest.param((3, 4, 4, 4), (5, 1, 1), 1, 0, 1, id="k1x1"),
    pytest.param((1, 2, 9, 9), (2, 2, 2), 4, 0, 1, id="stride>kernel"),
    pytest.param((2, 1, 4, 3), (2, 4, 3), 1, 0, 1, id="kernel=input"),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_conv2d_and_backward_vs_torch(xs, ws, stride, padding, dilation):
    rng = np.random.default_rng(60)
    x, w, b = rng.standard_normal(xs), rng.standard_normal((ws[0], xs[1], *ws[1:])), rng.standard_normal(ws[0])
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    tpad = _torch_padding(padding, ws[1:], dilation)
    helper_test_op(
        [x, w, b],
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=tpad, dilation=dilation),
        lambda x, w, b: cc.conv2d(x, w, b, **kw),
        lambda dout, x, w, b: cc.conv2d_backward(dout, x, w, **kw),
        grad_names=["x", "w", "b"])


@pytest.mark.parametrize("xs,kernel,stride,padding,dilation", [
    pytest.param((2, 3, 5, 6), (3, 3), 1, 0, 1, id="k3"),
    pytest.param((1, 2, 7, 6), (2, 3), (2, 1), (1, 2), (1, 2), id="pairs"),
    pytest.param((2, 1, 4, 4), (1, 1), 3, 0, 1, id="k1x1-stride3"),
    pytest.param((1, 2, 4, 5), (4, 5), 1, 0, 1, id="kernel=input"),
])
def test_im2col_col2im_vs_torch_unfold_fold(xs, kernel, stride, padding, dilation):
    """im2col is torch's unfold (same row/column order), col2im is torch's fold."""
    rng = np.random.default_rng(68)
    x = rng.standard_normal(xs)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    cols = cc.im2col(x, kernel, **kw)
    np.testing.assert_allclose(cols, F.unfold(torch.tensor(x), kernel, **kw).numpy(), rtol=0, atol=0)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(cc.col2im(c, x.shape, kernel, **kw),
                               F.fold(torch.tensor(c), xs[2:], kernel, **kw).numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# conv_transpose2d: forward vs torch; torch's gradients vs the adjoint relations
# ---------------------------------------------------------------------------------------------

CONVT_CASES = [
    pytest.param((1, 1, 2, 2), (1, 2, 2), 1, 0, 0, 1, id="d2l-size"),
    pytest.param((2, 3, 3, 4), (2, 3, 3), 2, 1, 1, 1, id="stride2-pad1-outpad1"),
    pytest.param((1, 2, 4, 3), (3, 2, 3), (2, 3), (1, 0), (1, 2), 1, id="pairs"),
    pytest.param((1, 2, 3, 3), (2, 3, 3), 1, 1, 0, 2, id="dilation2"),
    pytest.param((1, 2, 3, 4), (2, 2, 3), 1, 0, (1, 0), (2, 1), id="outpad>=stride-via-dilation"),
    pytest.param((2, 2, 2, 2), (1, 1, 1), 3, 0, 2, 1, id="k1x1-stride3"),
]


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,dilation", CONVT_CASES)
def test_conv_transpose2d_vs_torch(xs, ws, stride, padding, output_padding, dilation):
    rng = np.random.default_rng(61)
    x, w, b = rng.standard_normal(xs), rng.standard_normal((xs[1], *ws)), rng.standard_normal(ws[0])
    conv_kw = dict(stride=stride, padding=padding, dilation=dilation)

    def grads(g, x, w, b):
        cg = cc.conv2d(g, w, **conv_kw)                 # adjoint: d<convT(x, w), g>/dx = conv2d(g, w)
        ho, wo = x.shape[2:]
        dout = np.zeros(cg.shape)
        dout[:, :, :ho, :wo] = x
        _, dw, _ = cc.conv2d_backward(dout, g, w, **conv_kw)
        return cg[:, :, :ho, :wo], dw, g.sum(axis=(0, 2, 3))

    helper_test_op(
        [x, w, b],
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                           output_padding=output_padding, dilation=dilation),
        lambda x, w, b: cc.conv_transpose2d(x, w, b, output_padding=output_padding, **conv_kw),
        grads, grad_names=["x", "w", "b"])


# ---------------------------------------------------------------------------------------------
# pooling, with ties
# ---------------------------------------------------------------------------------------------

POOL_CASES = [
    pytest.param((2, 3, 4, 4), 2, None, 0, id="k2"),
    pytest.param((1, 2, 5, 5), 3, 1, 1, id="k3-overlap-pad1"),
    pytest.param((2, 1, 7, 6), 3, 2, 1, id="k3-stride2-pad1"),
    pytest.param((1, 2, 6, 7), (2, 3), (1, 2), (1, 1), id="kh!=kw-overlap-pad"),
    pytest.param((1, 1, 7, 7), 2, 3, 0, id="stride>kernel"),
    pytest.param((1, 2, 4, 4), 4, 2, 2, id="k4-pad2"),
]


def _pool_inputs(kind, xs, rng):
    if kind == "random":
        return rng.standard_normal(xs)
    if kind == "all-equal":
        return np.full(xs, 0.5)
    if kind == "minus-inf":                                # windows whose real elements are -inf
        return np.where(rng.uniform(size=xs) < 0.7, -np.inf, rng.standard_normal(xs))
    return rng.integers(0, 3, size=xs).astype(float)      # "ties": many equal maxima


@pytest.mark.parametrize("kind", ["random", "all-equal", "ties", "minus-inf"])
@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_vs_torch(xs, k, stride, padding, kind):
    x = _pool_inputs(kind, xs, np.random.default_rng(62))
    kw = dict(stride=stride, padding=padding)
    helper_test_op(
        [x],
        lambda x: F.max_pool2d(x, k, stride=stride, padding=padding),
        lambda x: cc.max_pool2d(x, k, **kw),
        lambda dout, x: (cc.max_pool2d_backward(dout, x, k, **kw),),
        rtol=0, atol=1e-14)   # gradients are sums of the same dout entries: identical routing required


def test_max_pool2d_argmax_matches_torch_indices():
    x = np.random.default_rng(63).integers(0, 2, size=(2, 2, 6, 6)).astype(float)
    _, idx = F.max_pool2d(torch.tensor(x), 2, return_indices=True)       # flat index into H*W
    arg = cc.max_pool2d_argmax(x, 2)                                     # a*kw + b inside the window
    i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    flat = (2 * i + arg // 2) * 6 + (2 * j + arg % 2)
    np.testing.assert_array_equal(flat, idx.numpy())


@pytest.mark.parametrize("share", [1.0, 0.6])
def test_max_pool2d_argmax_matches_torch_indices_with_padding(share):
    """With padding, a window whose real elements are all -inf: torch's index is its first real
    element, never the padding."""
    rng = np.random.default_rng(65)
    x = np.where(rng.uniform(size=(2, 2, 5, 6)) < share, -np.inf, rng.standard_normal((2, 2, 5, 6)))
    _, idx = F.max_pool2d(torch.tensor(x), 3, stride=2, padding=1, return_indices=True)
    arg = cc.max_pool2d_argmax(x, 3, stride=2, padding=1)
    i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    flat = (2 * i + arg // 3 - 1) * 6 + (2 * j + arg % 3 - 1)
    np.testing.assert_array_equal(flat, idx.numpy())


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_avg_pool2d_vs_torch(xs, k, stride, padding):
    x = np.random.default_rng(64).standard_normal(xs)
    kw = dict(stride=stride, padding=padding)
    helper_test_op(
        [x],
        lambda x: F.avg_pool2d(x, k, stride=stride, padding=padding),     # count_include_pad=True
        lambda x: cc.avg_pool2d(x, k, **kw),
        lambda dout, x: (cc.avg_pool2d_backward(dout, x, k, **kw),))


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("xs,k,stride", [
    pytest.param((2, 2, 4, 4), 2, None, id="k2"),
    pytest.param((1, 3, 5, 6), 3, 1, id="k3-overlap"),
    pytest.param((1, 1, 6, 7), (2, 3), (2, 1), id="kh!=kw"),
])
def test_lp_pool2d_vs_torch(xs, k, stride, p):
    x = np.random.default_rng(65).uniform(0.1, 2.0, size=xs)           # non-negative input
    helper_test_op(
        [x],
        lambda x: F.lp_pool2d(x, p, k, stride=stride),
        lambda x: cc.lp_pool2d(x, k, p=p, stride=stride),
        lambda dout, x: (cc.lp_pool2d_backward(dout, x, k, p=p, stride=stride),),
        rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# cross-entropy
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 1000.0, 5000.0], ids=["logits~1", "logits~1e3", "logits~5e3"])
def test_cross_entropy_vs_torch(scale):
    rng = np.random.default_rng(66)
    z = scale * rng.standard_normal((6, 5))
    t = np.array([0, 4, 2, 2, 1, 3])
    zt = torch.tensor(z, requires_grad=True)
    loss_t = F.cross_entropy(zt, torch.tensor(t))
    loss_t.backward()
    loss, grad = cc.cross_entropy(z, t)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_and_bce_vs_torch():
    rng = np.random.default_rng(67)
    z = 50 * rng.standard_normal((4, 6))
    np.testing.assert_allclose(cc.softmax(z), torch.softmax(torch.tensor(z), 1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(cc.log_softmax(z), torch.log_softmax(torch.tensor(z), 1).numpy(), rtol=1e-12)
    t = rng.uniform(0, 1, (4, 6))
    zt = torch.tensor(z, requires_grad=True)
    loss_t = F.binary_cross_entropy_with_logits(zt, torch.tensor(t))
    loss_t.backward()
    loss, grad = cc.binary_cross_entropy_with_logits(z, t)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-15)
