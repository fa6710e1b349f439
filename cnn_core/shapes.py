r"""Output sizes, padding and windows: the one place where the size arithmetic of convolution
and pooling lives.

A window of a kernel of size :math:`k` with stride :math:`s` and dilation :math:`d` reads the
padded input at :math:`s i + d a` for output position :math:`i` and kernel offset
:math:`0 \le a < k`; there are :math:`n' = \lfloor (n + p_0 + p_1 - d(k - 1) - 1)/s \rfloor + 1`
output positions along an axis of length :math:`n` padded with :math:`p_0` and :math:`p_1`
elements. ``conv_geometry`` resolves all of that once for both axes (a ``ConvGeometry``),
``pad2d`` pads, and ``window_view`` is every window at once (a strided view, no copy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._validate import _is_int, as_pair, check_pair

__all__ = ["conv_output_size", "resolve_padding", "conv_transpose_output_size", "ConvGeometry",
           "conv_geometry", "pad2d", "window_view", "window_slices"]

Pads = tuple[tuple[int, int], tuple[int, int]]


def conv_output_size(n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r"""Length of a convolution's output along one axis.

    .. math:: n' = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

    With ``dilation=1`` this is the familiar :math:`\lfloor (n + 2p - k)/s \rfloor + 1`.
    ``d(k - 1) + 1`` is the *effective* kernel size of a dilated kernel.

    Raises ``ValueError`` when the (effective) kernel does not fit in the padded input,
    i.e. when the result would be smaller than 1.
    """
    if not _sizes_ok(n, k, stride, dilation, padding):
        _check_sizes(n=n, k=k, stride=stride, padding=padding, dilation=dilation)
    k_eff = dilation * (k - 1) + 1
    if n + 2 * padding < k_eff:
        raise ValueError(
            f"kernel of effective size {k_eff} (k={k}, dilation={dilation}) does not fit an input "
            f"of size {n} with padding {padding} (padded size {n + 2 * padding})"
        )
    return (n + 2 * padding - k_eff) // stride + 1


def conv_transpose_output_size(n: int, k: int, *, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    r"""Length of a transposed convolution's output along one axis (PyTorch's convention).

    .. math:: n' = (n - 1)s - 2p + d(k - 1) + p_{\mathrm{out}} + 1

    where :math:`p_{\mathrm{out}}` is ``output_padding``, which must be smaller than the stride
    or the dilation (as in PyTorch: a larger one would add rows that no input position reaches).
    """
    if not _sizes_ok(n, k, stride, dilation, padding, output_padding):
        _check_sizes(n=n, k=k, stride=stride, padding=padding, dilation=dilation,
                     output_padding=output_padding)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding must be smaller than the stride or the dilation; got "
                         f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out = (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"transposed convolution of an input of size {n} with k={k}, stride={stride}, "
            f"padding={padding}, dilation={dilation} would have size {out} < 1"
        )
    return out


def _sizes_ok(n, k, stride, dilation, padding, output_padding=0) -> bool:
    """The valid path's test, a few comparisons: every size an ``int``, the paddings >= 0 and
    the others >= 1 (anything else goes to :func:`_check_sizes` for the message)."""
    return (type(n) is int and type(k) is int and type(stride) is int
            and type(dilation) is int and type(padding) is int and type(output_padding) is int
            and n >= 1 and k >= 1 and stride >= 1 and dilation >= 1
            and padding >= 0 and output_padding >= 0)


def _check_sizes(**sizes) -> None:
    """Each size an int (not a bool), ``padding`` and ``output_padding`` >= 0 and every other
    >= 1: ``TypeError``/``ValueError`` naming the first that is not."""
    for label, value in sizes.items():
        minimum = 0 if label.endswith("padding") else 1
        if not _is_int(value):
            raise TypeError(f"{label} must be an int >= {minimum}; got {value!r} "
                            f"({type(value).__name__})")
        if value < minimum:
            raise ValueError(f"{label} must be >= {minimum}; got {value}")


def resolve_padding(padding, kernel_size: tuple[int, int], dilation: tuple[int, int],
                    stride: tuple[int, int]) -> Pads:
    """Turn a padding argument into explicit ``((top, bottom), (left, right))``.

    ``padding`` may be an int, a pair ``(ph, pw)``, or one of

    - ``"valid"``: no padding;
    - ``"same"``: total padding ``d(k - 1)`` per axis so that the output keeps the input's size
      (requires stride 1); when it is odd the extra row/column goes at the bottom/right, as in
      PyTorch;
    - ``"full"``: ``d(k - 1)`` on every side, so that every partial overlap is computed.

    ``kernel_size``, ``dilation`` and ``stride`` are pairs ``(h, w)`` already (as
    ``as_pair`` returns them); an int alone is a ``TypeError``.
    """
    if not (_resolved(kernel_size) and _resolved(dilation) and _resolved(stride)):
        kernel_size = check_pair(kernel_size, "kernel_size")
        dilation = check_pair(dilation, "dilation")
        stride = check_pair(stride, "stride")
    if isinstance(padding, str):
        mode = padding.lower()
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1; got stride={stride}")
            return tuple((t // 2, t - t // 2) for t in totals)  # type: ignore[return-value]
        if mode == "full":
            return tuple((t, t) for t in totals)  # type: ignore[return-value]
        raise ValueError(
            f"padding must be an int, a pair (ph, pw), or one of 'valid', 'same', 'full'; got {padding!r}"
        )
    ph, pw = as_pair(padding, "padding", minimum=0)
    return ((ph, ph), (pw, pw))


def _resolved(pair) -> bool:
    """Whether ``pair`` is a tuple of two ``int`` >= 1: the valid path's test (anything else
    goes to :func:`~cnn_core._validate.check_pair`, which accepts a list too, or says what is
    wrong)."""
    return (type(pair) is tuple and len(pair) == 2 and type(pair[0]) is int
            and type(pair[1]) is int and pair[0] >= 1 and pair[1] >= 1)


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about the size arithmetic of one convolution or pooling, resolved and checked
    once: ``kernel``, ``stride`` and ``dilation`` as (h, w) pairs, ``pads`` as
    ``((top, bottom), (left, right))``, the input's ``in_hw`` and the output's ``out_hw``."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: Pads
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        """The size of the padded input."""
        (pt, pb), (pl, pr) = self.pads
        return self.in_hw[0] + pt + pb, self.in_hw[1] + pl + pr


def conv_geometry(in_hw, kernel, stride, padding, dilation, context: str = "") -> ConvGeometry:
    """Resolve and check the size arithmetic of a convolution of an input of size ``in_hw``
    (arguments as for :func:`cnn_core.conv2d`); ``context`` (e.g. the arguments' shapes) is
    appended to the error message when the kernel does not fit. Valid plain arguments are cached
    (the checks cost more than a small layer's arithmetic)."""
    args = (tuple(in_hw), kernel, stride, padding, dilation)
    if all(map(_plain, args)):
        try:
            return _geometry_cached(*args)
        except ValueError:
            pass                          # checked again below, for the message with context
    return _resolve_geometry(*args, context)


def _plain(v) -> bool:
    """Whether ``v`` is an ``int``, a ``str`` or a tuple of ``int`` (exactly these types: a bool
    or a numpy integer compares equal to an int and must not share its cache entry)."""
    return type(v) in (int, str) or (type(v) is tuple and all(type(e) is int for e in v))


@functools.lru_cache(maxsize=256)
def _geometry_cached(in_hw, kernel, stride, padding, dilation) -> ConvGeometry:
    return _resolve_geometry(in_hw, kernel, stride, padding, dilation)


def _resolve_geometry(in_hw, kernel, stride, padding, dilation, context: str = "") -> ConvGeometry:
    kernel = as_pair(kernel, "kernel_size")
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    pads = resolve_padding(padding, kernel, dilation, stride)
    out = []
    for axis, (n, k, s, d, (p0, p1)) in enumerate(zip(in_hw, kernel, stride, dilation, pads)):
        k_eff = d * (k - 1) + 1
        if n + p0 + p1 < k_eff:
            name = "height" if axis == 0 else "width"
            raise ValueError(
                f"kernel {name} {k} (effective size {k_eff} with dilation {d}) is larger than the "
                f"padded input {name} {n + p0 + p1} (input {n}, padding {p0}+{p1}){context}"
            )
        out.append((n + p0 + p1 - k_eff) // s + 1)
    return ConvGeometry(kernel, stride, dilation, pads, tuple(in_hw), tuple(out))


def pad2d(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of ``x`` with ``value`` by ``pads`` = ``((top, bottom), (left,
    right))``; ``x`` itself when there is no padding (faster than ``np.pad`` for this case)."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    *lead, h, w = x.shape
    out = np.full((*lead, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[..., pt:pt + h, pl:pl + w] = x
    return out


def window_view(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Read-only view ``(N, C, kh, kw, H', W')`` of a padded input ``xp`` (N, C, Hp, Wp): element
    ``[n, c, a, b, i, j]`` is ``xp[n, c, s_h i + d_h a, s_w j + d_w b]``. No data is copied."""
    n, c = xp.shape[:2]
    s0, s1, s2, s3 = xp.strides
    (kh, kw), (sh, sw), (dil_h, dil_w) = g.kernel, g.stride, g.dilation
    return as_strided(xp, shape=(n, c, kh, kw, *g.out_hw),
                      strides=(s0, s1, s2 * dil_h, s3 * dil_w, s2 * sh, s3 * sw), writeable=False)


def window_slices(g: ConvGeometry):
    """Yield ``(a, b, index)`` for every kernel offset in row-major order: ``xp[index]`` is the
    strided slice ``xp[:, :, s_h i + d_h a, s_w j + d_w b]`` over all output positions
    ``(i, j)``, the element at offset ``(a, b)`` of every window."""
    (kh, kw), (sh, sw), (dil_h, dil_w) = g.kernel, g.stride, g.dilation
    ho, wo = g.out_hw
    for a in range(kh):
        for b in range(kw):
            yield a, b, (slice(None), slice(None),
                         slice(dil_h * a, dil_h * a + sh * (ho - 1) + 1, sh),
                         slice(dil_w * b, dil_w * b + sw * (wo - 1) + 1, sw))
