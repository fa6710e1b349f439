"""Published test vectors, reproduced exactly. Every expected array below is copied from the cited
publication (never produced by running cnn_core).

- CS231n (Stanford), assignment 2, ConvolutionalNetworks.ipynb: "Convolution: Naive forward pass"
  and "Max-Pooling: Naive forward" (the ``correct_out`` arrays; the notebook asks for a relative
  error around 1e-8).
- d2l.ai, Dive into Deep Learning (Zhang, Lipton, Li, Smola), chapter "Convolutional Neural
  Networks": sections "Convolutions for Images" (corr2d, edge detection), "Multiple Input and
  Multiple Output Channels" (corr2d_multi_in, corr2d_multi_in_out, 1x1 convolution), "Pooling";
  chapter "Computer Vision", section "Transposed Convolution" (trans_conv, stride, padding).
"""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc


def _cs231n_rel_error(x, y):
    """CS231n's own rel_error: max |x - y| / max(1e-8, |x| + |y|), element-wise."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


# ---------------------------------------------------------------------------------------------
# CS231n assignment 2, ConvolutionalNetworks.ipynb
# ---------------------------------------------------------------------------------------------

CS231N_CONV_CORRECT_OUT = np.array([[[[-0.08759809, -0.10987781],
                                      [-0.18387192, -0.2109216]],
                                     [[0.21027089, 0.21661097],
                                      [0.22847626, 0.23004637]],
                                     [[0.50813986, 0.54309974],
                                      [0.64082444, 0.67101435]]],
                                    [[[-0.98053589, -1.03143541],
                                      [-1.19128892, -1.24695841]],
                                     [[0.69108355, 0.66880383],
                                      [0.59480972, 0.56776003]],
                                     [[2.36270298, 2.36904306],
                                      [2.38090835, 2.38247847]]]])

CS231N_POOL_CORRECT_OUT = np.array([[[[-0.26315789, -0.24842105],
                                      [-0.20421053, -0.18947368]],
                                     [[-0.14526316, -0.13052632],
                                      [-0.08631579, -0.07157895]],
                                     [[-0.02736842, -0.01263158],
                                      [0.03157895, 0.04631579]]],
                                    [[[0.09052632, 0.10526316],
                                      [0.14947368, 0.16421053]],
                                     [[0.20842105, 0.22315789],
                                      [0.26736842, 0.28210526]],
                                     [[0.32631579, 0.34105263],
                                      [0.38526316, 0.4]]]])


def _cs231n_conv_inputs():
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    return x, w, b


@pytest.mark.parametrize("impl", [
    pytest.param(cc.conv2d, id="conv2d"),
    pytest.param(cc.naive.conv2d_naive, id="conv2d_naive"),
])
def test_cs231n_conv_forward(impl):
    # conv_param = {'stride': 2, 'pad': 1}
    x, w, b = _cs231n_conv_inputs()
    out = impl(x, w, b, stride=2, padding=1)
    assert out.shape == (2, 3, 2, 2)
    assert _cs231n_rel_error(out, CS231N_CONV_CORRECT_OUT) < 1e-7
    np.testing.assert_allclose(out, CS231N_CONV_CORRECT_OUT, atol=5e-9)   # 8 printed decimals


@pytest.mark.parametrize("impl", [
    pytest.param(lambda x: cc.max_pool2d(x, 2, stride=2), id="max_pool2d"),
    pytest.param(lambda x: cc.naive.max_pool2d_naive(x, 2, stride=2), id="max_pool2d_naive"),
    pytest.param(lambda x: cc.MaxPool2D(2, stride=2).forward(x), id="MaxPool2D"),
])
def test_cs231n_max_pool_forward(impl):
    # pool_param = {'pool_width': 2, 'pool_height': 2, 'stride': 2}
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    out = impl(x)
    assert out.shape == (2, 3, 2, 2)
    assert _cs231n_rel_error(out, CS231N_POOL_CORRECT_OUT) < 1e-7
    np.testing.assert_allclose(out, CS231N_POOL_CORRECT_OUT, atol=5e-9)


def test_cs231n_conv_layer_forward():
    x, w, b = _cs231n_conv_inputs()
    layer = cc.Conv2D(3, 3, 4, stride=2, padding=1, rng=np.random.default_rng(0))
    layer.params["w"][...] = w
    layer.params["b"][...] = b
    assert _cs231n_rel_error(layer.forward(x), CS231N_CONV_CORRECT_OUT) < 1e-7


# ---------------------------------------------------------------------------------------------
# d2l.ai, "Convolutions for Images"
# ---------------------------------------------------------------------------------------------

D2L_X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
D2L_K = np.array([[0.0, 1.0], [2.0, 3.0]])


def test_d2l_corr2d():
    # corr2d(X, K) -> tensor([[19., 25.], [37., 43.]])
    expected = [[19.0, 25.0], [37.0, 43.0]]
    np.testing.assert_array_equal(cc.correlate2d(D2L_X, D2L_K), expected)
    np.testing.assert_array_equal(cc.conv2d(D2L_X[None, None], D2L_K[None, None])[0, 0], expected)


def test_d2l_edge_detection():
    # X = ones(6, 8); X[:, 2:6] = 0; K = [[1, -1]]; Y = corr2d(X, K) has 1 in column 1 and
    # -1 in column 5 of every row (6x7); corr2d(X.t(), K) is all zeros (8x5)
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    k = np.array([[1.0, -1.0]])
    expected = np.zeros((6, 7))
    expected[:, 1] = 1.0
    expected[:, 5] = -1.0
    np.testing.assert_array_equal(cc.correlate2d(x, k), expected)
    np.testing.assert_array_equal(cc.correlate2d(x.T, k), np.zeros((8, 5)))


# ---------------------------------------------------------------------------------------------
# d2l.ai, "Multiple Input and Multiple Output Channels"
# ---------------------------------------------------------------------------------------------

D2L_X2 = np.array([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                   [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
D2L_K2 = np.array([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])


def test_d2l_multi_input_channels():
    # corr2d_multi_in(X, K) -> tensor([[ 56.,  72.], [104., 120.]])
    np.testing.assert_array_equal(cc.conv2d(D2L_X2[None], D2L_K2[None])[0, 0],
                                  [[56.0, 72.0], [104.0, 120.0]])


def test_d2l_multi_input_output_channels():
    # K = torch.stack((K, K + 1, K + 2), 0); corr2d_multi_in_out(X, K) ->
    expected = np.array([[[56.0, 72.0], [104.0, 120.0]],
                         [[76.0, 100.0], [148.0, 172.0]],
                         [[96.0, 128.0], [192.0, 224.0]]])
    k = np.stack([D2L_K2, D2L_K2 + 1, D2L_K2 + 2])
    np.testing.assert_array_equal(cc.conv2d(D2L_X2[None], k)[0], expected)


def test_d2l_1x1_convolution_is_matrix_product():
    # corr2d_multi_in_out_1x1: X (c_i, h, w) -> (c_i, h*w); K (c_o, c_i, 1, 1) -> (c_o, c_i);
    # Y = K @ X, reshaped to (c_o, h, w): "assert float(torch.abs(Y1 - Y2).sum()) < 1e-6"
    rng = np.random.default_rng(70)
    x = rng.normal(0, 1, (3, 3, 3))
    k = rng.normal(0, 1, (2, 3, 1, 1))
    y_matmul = (k.reshape(2, 3) @ x.reshape(3, 9)).reshape(2, 3, 3)
    y_conv = cc.conv2d(x[None], k)[0]
    assert float(np.abs(y_conv - y_matmul).sum()) < 1e-6
    np.testing.assert_allclose(y_conv, y_matmul, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# d2l.ai, "Pooling"
# ---------------------------------------------------------------------------------------------

def test_d2l_pool2d():
    # pool2d(X, (2, 2)) -> [[4., 5.], [7., 8.]];  pool2d(X, (2, 2), 'avg') -> [[2., 3.], [5., 6.]]
    # (d2l's pool2d has stride 1 and no padding)
    x = D2L_X[None, None]
    np.testing.assert_array_equal(cc.max_pool2d(x, 2, stride=1)[0, 0], [[4.0, 5.0], [7.0, 8.0]])
    np.testing.assert_array_equal(cc.avg_pool2d(x, 2, stride=1)[0, 0], [[2.0, 3.0], [5.0, 6.0]])


def test_d2l_pooling_padding_and_stride():
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    # nn.MaxPool2d(3) (stride defaults to the window) -> tensor([[[[10.]]]])
    np.testing.assert_array_equal(cc.max_pool2d(x, 3), [[[[10.0]]]])
    # nn.MaxPool2d(3, padding=1, stride=2) -> tensor([[[[ 5.,  7.], [13., 15.]]]])
    np.testing.assert_array_equal(cc.max_pool2d(x, 3, padding=1, stride=2), [[[[5.0, 7.0], [13.0, 15.0]]]])
    # nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1)) -> tensor([[[[ 5.,  7.], [13., 15.]]]])
    np.testing.assert_array_equal(cc.max_pool2d(x, (2, 3), stride=(2, 3), padding=(0, 1)),
                                  [[[[5.0, 7.0], [13.0, 15.0]]]])


def test_d2l_pooling_multiple_channels():
    # X = torch.cat((X, X + 1), 1); nn.MaxPool2d(3, padding=1, stride=2) ->
    # tensor([[[[ 5.,  7.], [13., 15.]], [[ 6.,  8.], [14., 16.]]]])
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    x = np.concatenate([x, x + 1], axis=1)
    np.testing.assert_array_equal(cc.max_pool2d(x, 3, padding=1, stride=2),
                                  [[[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]]])


# ---------------------------------------------------------------------------------------------
# d2l.ai, "Transposed Convolution"
# ---------------------------------------------------------------------------------------------

D2L_TX = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
D2L_TK = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)


@pytest.mark.parametrize("impl", [
    pytest.param(cc.conv_transpose2d, id="conv_transpose2d"),
    pytest.param(cc.naive.conv_transpose2d_naive, id="conv_transpose2d_naive"),
])
def test_d2l_trans_conv(impl):
    # trans_conv(X, K) -> tensor([[ 0.,  0.,  1.], [ 0.,  4.,  6.], [ 4., 12.,  9.]])
    np.testing.assert_array_equal(impl(D2L_TX, D2L_TK)[0, 0], [[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]])
    # nn.ConvTranspose2d(1, 1, kernel_size=2, padding=1, bias=False) -> tensor([[[[4.]]]])
    np.testing.assert_array_equal(impl(D2L_TX, D2L_TK, padding=1), [[[[4.0]]]])
    # nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, bias=False) ->
    # tensor([[[[0., 0., 0., 1.], [0., 0., 2., 3.], [0., 2., 0., 3.], [4., 6., 6., 9.]]]])
    np.testing.assert_array_equal(impl(D2L_TX, D2L_TK, stride=2),
                                  [[[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 2.0, 3.0],
                                     [0.0, 2.0, 0.0, 3.0], [4.0, 6.0, 6.0, 9.0]]]])


def test_d2l_conv_then_transposed_conv_restores_shape():
    # X = rand(1, 10, 16, 16); conv = Conv2d(10, 20, kernel_size=5, padding=2, stride=3);
    # tconv = ConvTranspose2d(20, 10, kernel_size=5, padding=2, stride=3); tconv(conv(X)).shape == X.shape
    rng = np.random.default_rng(71)
    x = rng.uniform(size=(1, 10, 16, 16))
    y = cc.conv2d(x, rng.standard_normal((20, 10, 5, 5)), padding=2, stride=3)
    z = cc.conv_transpose2d(y, rng.standard_normal((20, 10, 5, 5)), padding=2, stride=3)
    assert z.shape == x.shape
