"""Matrix decompositions and inverses with their gradients: inv, solve, det, slogdet, cholesky,
eigh, svd, qr. Batched over leading dims (NumPy's and CuPy's linalg broadcast them).

The backward rules use only matmul, transposes, elementwise arithmetic and these same ops (the
``_inv``/``_solve`` helpers call the differentiable op on Tensors), so they are twice
differentiable. Public spellings live in ``chainrule.linalg``.
"""

from __future__ import annotations

from collections import namedtuple

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from ._core import Op

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
LUFactorResult = namedtuple("LUFactorResult", ["LU", "pivots"])
LUFactorExResult = namedtuple("LUFactorExResult", ["LU", "pivots", "info"])
LUResult = namedtuple("LUResult", ["P", "L", "U"])


def _mT(a):
    return array_module(a).swapaxes(a, -1, -2)


def _raw_xp(a):
    """NumPy or CuPy for the array under `a` (for constants such as identity matrices)."""
    return array_module(a._data if isinstance(a, Tensor) else a)


def _eye(n: int, like):
    return _raw_xp(like).eye(n, dtype=like.dtype)


def _inv(a):
    """inv on arrays, or (differentiably) on Tensors."""
    if isinstance(a, Tensor):
        return Inv.apply(a)
    return array_module(a).linalg.inv(a)


def _solve(a, b):
    """solve(a, b) for a matrix right-hand side, on arrays or (differentiably) on Tensors."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            a = Tensor._make(a)
        if not isinstance(b, Tensor):
            b = Tensor._make(b)
        return Solve.apply(a, b, False)
    return array_module(a).linalg.solve(a, b)


def _unsqueeze(a, *positions):
    """a with size-1 dims appended (positions -1) or inserted before the last (-2)."""
    shape = tuple(a.shape)
    for p in positions:
        shape = shape + (1,) if p == -1 else shape[:-1] + (1,) + shape[-1:]
    return a.reshape(shape)


def _all_zero(g) -> bool:
    data = g._data if isinstance(g, Tensor) else g
    return not bool(backend.to_numpy(data).any())


# ------------------------------------------------------------------------------ inverse, solve
class Inv(Op):
    """y = A⁻¹;  gA = -yᵀ gy yᵀ"""

    @staticmethod
    def forward(ctx, a):
        y = array_module(a).linalg.inv(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        yt = _mT(y)
        return -(yt @ gy @ yt)


class Solve(Op):
    """y = A⁻¹ B;  gB = A⁻ᵀ gy,  gA = -gB yᵀ  (B a vector when `vector`)"""

    @staticmethod
    def forward(ctx, a, b, vector):
        ctx.vector = vector
        xp = array_module(a)
        y = xp.linalg.solve(a, b[..., None])[..., 0] if vector else xp.linalg.solve(a, b)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved_tensors
        if ctx.vector:
            gy = _unsqueeze(gy, -1)
            y = _unsqueeze(y, -1)
        gb = _solve(_mT(a), gy)
        ga = -(gb @ _mT(y)) if ctx.needs_input_grad[0] else None
        if ctx.vector:
            gb = gb.reshape(gb.shape[:-1])
        return ga, gb, None


# ------------------------------------------------------------------------------ determinants
class Det(Op):
    """y = det A;  gA = gy · y · A⁻ᵀ"""

    @staticmethod
    def forward(ctx, a):
        y = array_module(a).linalg.det(a)
        y = _raw_xp(a).asarray(y, dtype=a.dtype)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved_tensors
        return _unsqueeze(gy * y, -1, -1) * _mT(_inv(a))


class Slogdet(Op):
    """(sign, log|det A|);  gA = g_logabsdet · A⁻ᵀ  (the sign has no gradient)"""

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        sign, logabsdet = xp.linalg.slogdet(a)
        sign = _raw_xp(a).asarray(sign, dtype=a.dtype)
        logabsdet = _raw_xp(a).asarray(logabsdet, dtype=a.dtype)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabsdet

    @staticmethod
    def backward(ctx, gsign, glogabsdet):
        (a,) = ctx.saved_tensors
        return _unsqueeze(glogabsdet, -1, -1) * _mT(_inv(a))


# ------------------------------------------------------------------------------ cholesky
class Cholesky(Op):
    """A = L Lᵀ;  gA = L⁻ᵀ Φ(Lᵀ gL) L⁻¹,  Φ(X) = ½(tril X + (tril₋₁ X)ᵀ)  (PyTorch's form)"""

    @staticmethod
    def forward(ctx, a):
        y = array_module(a).linalg.cholesky(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        xp = array_module(gy)
        p = xp.tril(_mT(y) @ xp.tril(gy))
        p = (p + _mT(xp.tril(p, -1))) * 0.5
        y_inv = _inv(y)
        return _mT(y_inv) @ p @ y_inv


# ------------------------------------------------------------------------------ eigh
class Eigh(Op):
    """A = V diag(w) Vᵀ;  gA = V (diag(g_w) + ½(Vᵀg_V - g_Vᵀ V) / E) Vᵀ,  E_ij = w_j - w_i"""

    @staticmethod
    def forward(ctx, a, uplo):
        w, v = array_module(a).linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        n = w.shape[-1]
        eye = _eye(n, w)
        inner = _unsqueeze(gw, -1) * eye
        if not _all_zero(gv):
            vtgv = _mT(v) @ gv
            e = _unsqueeze(w, -2) - _unsqueeze(w, -1) + eye  # 1 on the diagonal, where skew is 0
            inner = inner + (vtgv - _mT(vtgv)) * 0.5 / e
        return v @ inner @ _mT(v), None


# ------------------------------------------------------------------------------ svd
class SVD(Op):
    """A = U diag(S) Vh;  gA = U (diag(g_S) + (skew(Uᵀg_U) S + S skew(Vh g_Vhᵀ)) / E) Vh + the
    parts of g_U, g_Vh outside U's and Vh's spans  (E_jk = S_k² - S_j²; PyTorch's svd_backward)"""

    @staticmethod
    def forward(ctx, a, full_matrices):
        u, s, vh = array_module(a).linalg.svd(a, full_matrices=full_matrices)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
        if u.shape[-1] != k:  # full_matrices: only the first k vectors carry gradient (PyTorch)
            u, gu = u[..., :k], gu[..., :k]
        if vh.shape[-2] != k:
            vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        use_u, use_vh = not _all_zero(gu), not _all_zero(gvh)
        core = _unsqueeze(gs, -1) * _eye(k, s)
        if use_u or use_vh:
            s2 = s * s
            e = _unsqueeze(s2, -2) - _unsqueeze(s2, -1) + _eye(k, s)
            if use_u:
                uhgu = _mT(u) @ gu
                core = core + (uhgu - _mT(uhgu)) * _unsqueeze(s, -2) / e
            if use_vh:
                vhgv = vh @ _mT(gvh)
                core = core + _unsqueeze(s, -1) * (vhgv - _mT(vhgv)) / e
        if m > k and use_u:
            gu_sinv = gu / _unsqueeze(s, -2)
            return (u @ core + gu_sinv - u @ (_mT(u) @ gu_sinv)) @ vh, None
        if n > k and use_vh:
            sinv_gvh = gvh / _unsqueeze(s, -1)
            return u @ (core @ vh + sinv_gvh - (sinv_gvh @ _mT(vh)) @ vh), None
        return u @ core @ vh, None


# ------------------------------------------------------------------------------ qr
class QR(Op):
    """A = QR (reduced, m ≥ n);  gA = (g_Q + Q copyltu(M)) R⁻ᵀ,  M = R g_Rᵀ - g_Qᵀ Q,
    copyltu(M) = tril(M) + tril₋₁(M)ᵀ"""

    @staticmethod
    def forward(ctx, a, mode):
        q, r = array_module(a).linalg.qr(a, mode=mode)
        ctx.shape = a.shape
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        q, r = ctx.saved_tensors
        m, n = ctx.shape[-2], ctx.shape[-1]
        if m < n or q.shape[-1] != n:
            raise NotImplementedError(
                f"linalg.qr backward: chainrule differentiates QR only for mode='reduced' with "
                f"m >= n (got a {m}x{n} input and Q of shape {tuple(q.shape)})"
            )
        xp = array_module(gq)
        mm = r @ _mT(gr) - _mT(gq) @ q
        copyltu = xp.tril(mm) + _mT(xp.tril(mm, -1))
        return (gq + q @ copyltu) @ _mT(_inv(r)), None


# ------------------------------------------------------------------------------ eig
class Eig(Op):
    """A V = V diag(L) (complex);  gA = V⁻ᴴ (diag(g_L) + (Vᴴg_V - VᴴV Re diag(Vᴴg_V)) / Ē) Vᴴ,
    Ē_ij = conj(L_j - L_i), its real part for a real A  (PyTorch's linalg_eig_backward)"""

    # the rule needs complex conjugation, which chainrule's differentiable elementwise ops do
    # not apply to complex gradients yet: it runs on arrays only
    differentiable_twice = False

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        cdt = backend.complex128 if a.dtype in (backend.float64, backend.complex128) else None
        cdt = cdt or backend.complex64
        w, v = xp.linalg.eig(a)
        w, v = w.astype(cdt), v.astype(cdt)
        ctx.real_input = a.dtype.kind != "c"
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = (_raw(t) for t in ctx.saved_tensors)
        gw, gv = _raw(gw), _raw(gv)
        xp = array_module(w)
        vh = _mT(v).conj()
        if _all_zero(gv):
            ga = xp.linalg.solve(vh, gw[..., :, None] * vh)
        else:
            vhgv = vh @ gv
            diag = xp.diagonal(vhgv, 0, -2, -1)
            if not xp.allclose(diag.imag, 0, rtol=1e-2, atol=1e-2):
                raise RuntimeError(
                    "linalg_eig_backward: The eigenvectors in the complex case are specified up "
                    "to multiplication by e^{i phi}. The specified loss function depends on this "
                    "quantity, so it is ill-defined."
                )
            vhgv = vhgv - vh @ (v * diag.real[..., None, :])
            e = (w[..., None, :] - w[..., :, None]).conj()
            n = w.shape[-1]
            e[..., range(n), range(n)] = 1
            core = vhgv / e
            core[..., range(n), range(n)] = gw
            ga = xp.linalg.solve(vh, core @ vh)
        return ga.real.copy() if ctx.real_input else ga


def _raw(a):
    return a._data if isinstance(a, Tensor) else a


# ------------------------------------------------------------------------------ lu
def lu_arrays(a):
    """LU with partial pivoting, batched: (LU packed, 1-based int32 pivots), LAPACK getrf's
    choices (the first largest |a| of each column below the diagonal)."""
    xp = array_module(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    rows = a.reshape((-1, m, n)).copy()
    piv = xp.zeros((rows.shape[0], k), dtype=backend.int32)
    b = xp.arange(rows.shape[0])
    for j in range(k):
        p = j + xp.argmax(xp.abs(rows[:, j:, j]), axis=1)
        piv[:, j] = p + 1
        top = rows[b, j].copy()
        rows[b, j] = rows[b, p]
        rows[b, p] = top
        pivot = rows[:, j, j]
        col = rows[:, j + 1 :, j] / xp.where(pivot == 0, 1, pivot)[:, None]
        rows[:, j + 1 :, j] = col
        rows[:, j + 1 :, j + 1 :] -= col[:, :, None] * rows[:, j, None, j + 1 :]
    return rows.reshape(a.shape), piv.reshape(a.shape[:-2] + (k,))


def permutation_of(pivots, m: int):
    """The row order `perm` with A[perm] = L U, from LAPACK's sequence of row swaps."""
    xp = array_module(pivots)
    flat = pivots.reshape((-1, pivots.shape[-1])).astype(backend.int64) - 1
    perm = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    b = xp.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        p = flat[:, j]
        top = perm[b, j].copy()
        perm[b, j] = perm[b, p]
        perm[b, p] = top
    return perm.reshape(pivots.shape[:-1] + (m,))


class LUFactor(Op):
    """A = P L U, packed (L below the diagonal, U on and above);  with gL = tril₋₁(g)[:, :k],
    gU = triu(g)[:k]  (PyTorch's linalg_lu_backward):
    square:  gA = P L⁻ᵀ (tril₋₁(Lᵀ gL) + triu(gU Uᵀ)) U⁻ᵀ
    wide:    gA = P L⁻ᵀ [gU₁ + tril₋₁(Lᵀ gL - gU Uᵀ) U₁⁻ᵀ, gU₂]
    tall:    gA = P [gL₁ + L₁⁻ᵀ triu(gU Uᵀ - Lᵀ gL), gL₂] U⁻ᵀ"""

    @staticmethod
    def forward(ctx, a):
        lu, piv = lu_arrays(a)
        ctx.perm = permutation_of(piv, a.shape[-2])
        ctx.save_for_backward(lu)
        return lu, piv

    @staticmethod
    def backward(ctx, glu, gpiv):
        (lu,) = ctx.saved_tensors
        m, n = lu.shape[-2:]
        k = min(m, n)
        xp = array_module(glu)
        lower = xp.tril(lu, -1)[..., :, :k] + _raw_xp(lu).eye(m, k, dtype=lu.dtype)
        upper = xp.triu(lu)[..., :k, :]
        gl = xp.tril(glu, -1)[..., :, :k]
        gu = xp.triu(glu)[..., :k, :]
        if m == n:
            x = xp.tril(_mT(lower) @ gl, -1) + xp.triu(gu @ _mT(upper))
            x = _mT(_solve(upper, _mT(_solve(_mT(lower), x))))  # L⁻ᵀ x U⁻ᵀ
        elif m < n:
            x = xp.tril(_mT(lower) @ gl - gu @ _mT(upper), -1)
            x = _mT(_solve(upper[..., :, :k], _mT(x)))  # x U₁⁻ᵀ
            x = xp.concatenate([x + gu[..., :, :k], gu[..., :, k:]], axis=-1)
            x = _solve(_mT(lower), x)
        else:
            x = xp.triu(gu @ _mT(upper) - _mT(lower) @ gl)
            x = _solve(_mT(lower[..., :k, :]), x)  # L₁⁻ᵀ x
            x = xp.concatenate([x + gl[..., :k, :], gl[..., k:, :]], axis=-2)
            x = _mT(_solve(upper, _mT(x)))
        # P X: row perm[i] of the result is row i of X
        inverse = _raw_xp(lu).argsort(ctx.perm, axis=-1)
        index = _raw_xp(lu).broadcast_to(inverse[..., :, None], tuple(lu.shape)).copy()
        return xp.take_along_axis(x, index, axis=-2)


# ------------------------------------------------------------------------------ value-only
class ValueOnly(Op):
    """y = f(A) for an f chainrule does not differentiate (pinv, matrix_rank, lstsq…):
    backward raises, naming the function."""

    @staticmethod
    def forward(ctx, a, name, fn):
        ctx.op_name = name
        return fn(a)

    @staticmethod
    def backward(ctx, gy):
        raise NotImplementedError(
            f"the derivative of {ctx.op_name} is not implemented in chainrule: compute it under "
            "torch.no_grad() or on .detach()ed inputs"
        )


METHODS: list = []
__all__: list = []
