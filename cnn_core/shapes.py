"""Output sizes and padding: the one place where the size arithmetic of convolution lives."""

from __future__ import annotations

from ._validate import _is_int, as_pair

__all__ = ["conv_output_size", "resolve_padding", "conv_transpose_output_size"]

Pads = tuple[tuple[int, int], tuple[int, int]]


def conv_output_size(n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r"""Length of a convolution's output along one axis.

    .. math:: n' = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

    With ``dilation=1`` this is the familiar :math:`\lfloor (n + 2p - k)/s \rfloor + 1`.
    ``d(k - 1) + 1`` is the *effective* kernel size of a dilated kernel.

    Raises ``ValueError`` when the (effective) kernel does not fit in the padded input,
    i.e. when the result would be smaller than 1.
    """
    for value, label, minimum in ((n, "n", 1), (k, "k", 1), (stride, "stride", 1),
                                  (padding, "padding", 0), (dilation, "dilation", 1)):
        if not _is_int(value):
            raise TypeError(f"{label} must be an int; got {value!r}")
        if value < minimum:
            raise ValueError(f"{label} must be >= {minimum}; got {value}")
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

    .. math:: n' = (n - 1)s - 2p + d(k - 1) + \text{output\_padding} + 1
    """
    out = (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"transposed convolution of an input of size {n} with k={k}, stride={stride}, "
            f"padding={padding}, dilation={dilation} would have size {out} < 1"
        )
    return out


def resolve_padding(padding, kernel_size: tuple[int, int], dilation: tuple[int, int],
                    stride: tuple[int, int]) -> Pads:
    """Turn a padding argument into explicit ``((top, bottom), (left, right))``.

    ``padding`` may be an int, a pair ``(ph, pw)``, or one of

    - ``"valid"``: no padding;
    - ``"same"``: total padding ``d(k - 1)`` per axis so that the output keeps the input's size
      (requires stride 1); when it is odd the extra row/column goes at the bottom/right, as in
      PyTorch;
    - ``"full"``: ``d(k - 1)`` on every side, so that every partial overlap is computed.
    """
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
