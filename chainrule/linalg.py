"""``chainrule.linalg``: PyTorch's ``torch.linalg`` on NumPy/CuPy's linalg.

Differentiable: ``inv``, ``solve``, ``det``, ``slogdet``, ``logdet``, ``cholesky``, ``eigh``,
``eigvalsh``, ``svd``, ``svdvals``, ``qr`` (reduced, m ≥ n), and the norms (compositions).
Value-only (backward raises a clear error): ``pinv``, ``matrix_rank``, ``lstsq``, ``eigvals``.
"""

from __future__ import annotations

import math
import numbers

from . import backend
from .amp import autocast_mode as _amp
from .backend import array_module
from .ops import decomp
from .ops.decomp import (
    EighResult,
    EigResult,
    LUFactorExResult,
    LUFactorResult,
    LUResult,
    QRResult,
    SlogdetResult,
    SVDResult,
)
from .ops.linalg import matmul
from .ops.reduce import vector_norm
from .tensor import Tensor

__all__ = [
    "norm", "vector_norm", "matrix_norm", "inv", "inv_ex", "solve", "det", "slogdet", "logdet",
    "cholesky", "cholesky_ex", "qr", "svd", "svdvals", "eigh", "eigvalsh", "pinv",
    "matrix_rank", "lstsq", "cross", "matmul", "diagonal", "multi_dot",
    "matrix_power", "LinAlgError", "eig", "eigvals", "lu_factor", "lu_factor_ex", "lu",
    "lu_solve", "lu_unpack", "solve_triangular",
]  # fmt: skip


class LinAlgError(RuntimeError):
    """A matrix that is singular or not positive-definite: ``torch.linalg.LinAlgError``."""


def _autocast32(*tensors):
    """autocast's float32 list: inside an autocast block the decompositions run in float32."""
    return _amp.autocast_inputs("fp32", *tensors) if _amp.active else tensors


def _check_square(name: str, a: Tensor) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.{name}: A must be batches of square matrices, but they are "
            f"{a.shape[-2] if a.ndim >= 2 else 1} by {a.shape[-1] if a.ndim else 1} matrices"
        )


def _check_float(name: str, a: Tensor) -> Tensor:
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{name}(): argument 'A' must be Tensor, not {type(a).__name__}")
    if not (backend.is_floating(a.dtype) or backend.is_complex(a.dtype)):
        raise RuntimeError(
            f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
            f"{backend.dtype_name(a.dtype).replace('chainrule.', '').capitalize()}"
        )
    if a.dtype in (backend.float16, backend.bfloat16):
        raise RuntimeError(
            f"linalg.{name}: Low precision dtypes not supported. Got "
            f"{backend.dtype_name(a.dtype)}; convert with .float()"
        )
    return a


def _lapack(name: str, fn, *args):
    """Run a decomposition, turning NumPy's LinAlgError into PyTorch's message."""
    try:
        return fn(*args)
    except Exception as e:
        if type(e).__name__ != "LinAlgError":
            raise
        if name.startswith("cholesky"):
            msg = (
                f"linalg.{name}: The factorization could not be completed because the input is "
                "not positive-definite."
            )
        else:
            msg = f"linalg.{name}: The diagonal element is zero, the inversion could not be completed because the input matrix is singular."  # noqa: E501
        raise LinAlgError(msg) from None


# ------------------------------------------------------------------------------ norms
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):
    """'fro', 'nuc', ±2 (largest/smallest singular value), ±1, ±inf (max/min column/row sums)."""
    _check_float("matrix_norm", A)
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype)
    if ord == "nuc" or ord in (2, -2):
        x = A.movedim((d0, d1), (-2, -1))
        s = svdvals(x)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        return _keep(out, (d0, d1), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(sum_dim, keepdim=True)
        out = sums.amax(red_dim, keepdim=True) if ord > 0 else sums.amin(red_dim, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _keep(out: Tensor, dims, keepdim: bool) -> Tensor:
    if not keepdim:
        return out
    for d in sorted(dims):
        out = out.unsqueeze(d)
    return out


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None):
    """The vector norm (1-D, or ``dim`` an int) or the matrix norm (2-D, or ``dim`` a pair)."""
    if isinstance(dim, numbers.Integral):
        dim = (int(dim),)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, dim or (-2, -1), keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} needs a 2-D input or a 2-tuple dim")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# ------------------------------------------------------------------------------ inverses
def inv(A: Tensor) -> Tensor:
    """A⁻¹ (batched). Raises LinAlgError for a singular matrix."""
    (A,) = _autocast32(A)
    _check_float("inv", A)
    _check_square("inv", A)
    return _lapack("inv", decomp.Inv.apply, A)


def inv_ex(A: Tensor, *, check_errors: bool = False):
    from .ops.creation import zeros

    return inv(A), zeros(A.shape[:-2], dtype=backend.int32)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B). B is a vector when B.ndim == 1 or B's shape is
    A's batch shape plus n."""
    A, B = _autocast32(A, B)
    _check_float("solve", A)
    _check_square("solve", A)
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if B.shape[-1 if vector else -2] != A.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({A.shape[-2]}x{A.shape[-1]} and {'x'.join(str(s) for s in B.shape)})"
        )
    if B.dtype != A.dtype:
        names = {backend.float32: "Float", backend.float64: "Double"}
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{names.get(A.dtype, A.dtype)} and B of type {names.get(B.dtype, B.dtype)} instead"
        )
    return _lapack("solve", decomp.Solve.apply, A, B, vector)


def det(A: Tensor) -> Tensor:
    _check_float("det", A)
    _check_square("det", A)
    return decomp.Det.apply(A)


def slogdet(A: Tensor) -> SlogdetResult:
    """(sign, log|det A|); the gradient flows through logabsdet."""
    _check_float("slogdet", A)
    _check_square("slogdet", A)
    return SlogdetResult(*decomp.Slogdet.apply(A))


def logdet(A: Tensor) -> Tensor:
    """log det A (NaN where det < 0, -inf where it is 0), as torch.logdet."""
    sign, logabsdet = slogdet(A)
    return logabsdet + (sign < 0).to(A.dtype) * math.nan if bool((sign < 0).any()) else logabsdet


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L lower-triangular with A = L Lᴴ (Lᴴ with ``upper=True``). A must be positive-definite."""
    (A,) = _autocast32(A)
    _check_float("cholesky", A)
    _check_square("cholesky", A)
    L = _lapack("cholesky", decomp.Cholesky.apply, A)
    return L.mT if upper else L


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    from .ops.creation import zeros

    return cholesky(A, upper=upper), zeros(A.shape[:-2], dtype=backend.int32)


# ------------------------------------------------------------------------------ decompositions
def eigh(A: Tensor, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix, from the
    ``UPLO`` triangle."""
    (A,) = _autocast32(A)
    _check_float("eigh", A)
    _check_square("eigh", A)
    return EighResult(*_lapack("eigh", decomp.Eigh.apply, A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    return eigh(A, UPLO).eigenvalues


def eig(A: Tensor) -> EigResult:
    """Eigenvalues and eigenvectors of a general square matrix, always complex (complex64 for
    float32). Each eigenvector has norm 1, as LAPACK returns it; the gradient is PyTorch's (it
    raises when the loss depends on the eigenvectors' arbitrary phases).

    Example:
        >>> import chainrule as torch
        >>> torch.linalg.eig(torch.tensor([[2.0, 0.0], [0.0, 3.0]])).eigenvalues.real.tolist()
        [2.0, 3.0]
    """
    (A,) = _autocast32(A)
    _check_float("eig", A)
    _check_square("eig", A)
    if not bool(backend.to_numpy(array_module(A._data).isfinite(A._data).all())):
        raise LinAlgError("linalg.eig: input tensor should not contain infs or NaNs.")
    return EigResult(*decomp.Eig.apply(A))


def eigvals(A: Tensor) -> Tensor:
    """The eigenvalues of ``eig`` (complex), differentiable."""
    return eig(A).eigenvalues


def svd(A: Tensor, full_matrices: bool = True, *, driver=None) -> SVDResult:
    """A = U diag(S) Vh. Gradients: U and Vh only up to their first min(m, n) columns/rows."""
    (A,) = _autocast32(A)
    _check_float("svd", A)
    return SVDResult(*_lapack("svd", decomp.SVD.apply, A, full_matrices))


def svdvals(A: Tensor, *, driver=None) -> Tensor:
    return svd(A, full_matrices=False).S


def qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """A = QR: mode 'reduced' (differentiable for m ≥ n), 'complete' or 'r' (R only, Q empty)."""
    (A,) = _autocast32(A)
    _check_float("qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced', 'complete', 'r'"
        )  # noqa: E501
    if mode == "r":
        from .ops.creation import zeros

        r = _value_only("qr", A, lambda a: array_module(a).linalg.qr(a, mode="r"))
        return QRResult(zeros(0, dtype=A.dtype), r)
    return QRResult(*decomp.QR.apply(A, mode))


def _value_only(name: str, A: Tensor, fn) -> Tensor:
    return decomp.ValueOnly.apply(A, "linalg." + name, fn)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse (value only: no gradient)."""
    _check_float("pinv", A)
    if atol is not None:
        raise NotImplementedError("linalg.pinv: atol is not supported in chainrule; use rtol")

    def fn(a):
        xp = array_module(a)
        if rtol is None:
            return xp.linalg.pinv(a, hermitian=hermitian)
        return xp.linalg.pinv(a, rcond=rtol, hermitian=hermitian)

    return _value_only("pinv", A, fn)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values above the tolerance (int64; no gradient)."""
    _check_float("matrix_rank", A)
    xp = array_module(A._data)
    s = xp.linalg.svd(A._data, compute_uv=False)
    eps = xp.finfo(A.dtype).eps
    tol = s.max(-1, initial=0) * (max(A.shape[-2:]) * eps if rtol is None else rtol)
    if atol is not None:
        tol = xp.maximum(tol, atol)
    return Tensor._make((s > tol[..., None]).sum(-1).astype(backend.int64))


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """Least-squares solution of A X ≈ B (value only): (solution, residuals, rank, sv)."""
    A, B = _autocast32(A, B)
    _check_float("lstsq", A)
    from collections import namedtuple

    x = _value_only("lstsq", A, lambda a: array_module(a).linalg.lstsq(a, B._data, rcond=rcond)[0])
    empty = Tensor._make(array_module(A._data).zeros(0, A.dtype))
    result = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])
    return result(x, empty, empty, empty)


# ------------------------------------------------------------------------------ LU
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """(LU, pivots, info): the packed LU factorisation with partial pivoting (LAPACK's getrf:
    1-based int32 pivots) and, per matrix, the 1-based index of the first zero on U's diagonal
    (0 if none). Differentiable for square matrices."""
    (A,) = _autocast32(A)
    _check_float("lu_factor_ex", A)
    if A.ndim < 2:
        raise RuntimeError(
            f"linalg.lu_factor: The input tensor A must have at least 2 dimensions (got {A.ndim})"
        )
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, pivots = decomp.LUFactor.apply(A)
    xp = array_module(LU._data)
    k = min(A.shape[-2:])
    zero = xp.diagonal(LU._data, 0, -2, -1)[..., :k] == 0
    info = xp.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(backend.int32)
    info = Tensor._make(xp.asarray(info))
    if check_errors and bool(backend.to_numpy(info._data).any()):
        raise LinAlgError(f"linalg.lu_factor_ex: U is singular (info = {info.tolist()})")
    return LUFactorExResult(LU, pivots, info)


def lu_factor(A: Tensor, *, pivot: bool = True) -> LUFactorResult:
    """(LU, pivots) with A = P L U; raises when U has a zero on its diagonal (use
    ``lu_factor_ex`` or ``lu`` to factor singular matrices)."""
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    bad = backend.to_numpy(info._data).reshape(-1)
    if bad.any():
        j = int(bad[bad.nonzero()[0][0]])
        raise LinAlgError(
            f"torch.linalg.lu_factor: U[{j},{j}] is zero and using it on lu_solve would result "
            "in a division by zero. If you still want to perform the factorization, consider "
            "calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"
        )
    return LUFactorResult(LU, pivots)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True) -> LUResult:  # fmt: skip
    """(P, L, U) from ``lu_factor``'s packed form: P (m×m) a permutation, L (m×k) unit lower
    triangular, U (k×n) upper triangular, k = min(m, n). Differentiable in LU_data."""
    from .ops.creation import eye

    m, n = LU_data.shape[-2:]
    k = min(m, n)
    xp = array_module(LU_data._data)
    P = L = U = Tensor._make(xp.zeros(0, LU_data.dtype))
    if unpack_data:
        ones = eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        L = LU_data[..., :, :k].tril(-1) + ones
        U = LU_data[..., :k, :].triu()
    if unpack_pivots:
        perm = decomp.permutation_of(LU_pivots._data, m)
        p = xp.zeros(perm.shape + (m,), dtype=LU_data.dtype)
        # P[perm[i], i] = 1, so that (P L U)[perm[i]] = (L U)[i] = A[perm[i]]
        xp.put_along_axis(p, perm[..., None, :], 1, axis=-2)
        P = Tensor._make(p)
    return LUResult(P, L, U)


def lu(A: Tensor, *, pivot: bool = True) -> LUResult:
    """A = P L U with partial pivoting: P (m×m), L (m×k) unit lower triangular, U (k×n).
    Differentiable in L and U for square A (P is a constant)."""
    LU, pivots, _ = lu_factor_ex(A, pivot=pivot)
    return lu_unpack(LU, pivots)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False) -> Tensor:  # fmt: skip
    """X with A X = B (``left=False``: X A = B; ``adjoint=True``: Aᴴ in place of A) from A's
    ``lu_factor``. Differentiable in LU and B (it solves with the triangular factors)."""
    LU, B = _autocast32(LU, B)
    _check_float("lu_solve", LU)
    _check_square("lu_solve", LU)
    if B.ndim < 2:
        raise RuntimeError(
            f"linalg.lu_solve: The input tensor B must have at least 2 dimensions (got {B.ndim})"
        )
    if not left:  # X A = B  <=>  Aᵀ Xᵀ = Bᵀ
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    n = LU.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(
            f"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B "
            f"({n}x{n} and {'x'.join(str(s) for s in B.shape[-2:])})"
        )
    P, L, U = lu_unpack(LU, pivots)
    if adjoint:  # Aᵀ X = B: Uᵀ Lᵀ Pᵀ X = B
        return P @ solve(L.mT, solve(U.mT, B))
    return solve(U, solve(L, P.mT @ B))


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:  # fmt: skip
    """X with A X = B (``left=False``: X A = B) for A triangular: only A's ``upper`` (or lower)
    triangle is read, and its diagonal taken as ones with ``unitriangular``. Differentiable in
    both (the gradient of A is triangular too, as in PyTorch)."""
    _check_float("solve_triangular", A)
    _check_square("solve_triangular", A)
    if B.ndim < 2:
        raise RuntimeError(
            "linalg.solve_triangular: The input tensor B must have at least 2 dimensions."
        )
    T = A.triu(1 if unitriangular else 0) if upper else A.tril(-1 if unitriangular else 0)
    if unitriangular:
        from .ops.creation import eye

        T = T + eye(A.shape[-1], dtype=A.dtype, device=A.device)
    if not left:  # X T = B  <=>  Tᵀ Xᵀ = Bᵀ
        return solve(T.mT, B.mT).mT
    return solve(T, B)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The 3-vector cross product along ``dim`` (a composition: differentiable)."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    a = input.movedim(dim, -1)
    b = other.movedim(dim, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    from .ops.shape import stack

    out = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)
    return out.movedim(-1, dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    return A.diagonal(offset, dim1, dim2)


def multi_dot(tensors) -> Tensor:
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def matrix_power(A: Tensor, n: int) -> Tensor:
    """A to the integer power n (negative n inverts first)."""
    _check_square("matrix_power", A)
    if n < 0:
        A, n = inv(A), -n
    from .ops.creation import eye

    result = eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(A.shape)
    base = A
    while n:
        if n & 1:
            result = result @ base
        base = base @ base
        n >>= 1
    return result
