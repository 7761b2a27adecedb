"""A Hessian-vector product without the Hessian.

For f(x) = ½ xᵀAx + Σ xᵢ³ the gradient is ∇f = ½(A + Aᵀ)x + 3x² and the Hessian is
H = ½(A + Aᵀ) + diag(6x). Forming H costs n² numbers; H·v costs two backward passes, because
H·v = ∇ₓ(∇f(x) · v): differentiate the gradient (built with create_graph=True, so that it is
itself a graph) dotted with v. ``chainrule.autograd.functional.hvp`` does exactly that, as
``torch.autograd.functional.hvp`` does; the same trick drives Newton-CG and curvature probes.

Run it with:  python examples/hessian_vector_product.py
"""

import numpy as np

import chainrule as torch
from chainrule.autograd.functional import hessian, hvp


def main(n: int = 5, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    a = torch.tensor(rng.standard_normal((n, n)))
    x = torch.tensor(rng.standard_normal(n))
    v = torch.tensor(rng.standard_normal(n))

    def f(x):
        return 0.5 * x @ a @ x + (x**3).sum()

    h_analytic = 0.5 * (a + a.T).numpy() + np.diag(6 * x.numpy())
    hv_analytic = h_analytic @ v.numpy()

    _, hv = hvp(f, x, v)  # (f(x), H·v)

    # the same by hand: two backward passes, the first one building a graph
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(f(xg), xg, create_graph=True)
    (hv_by_hand,) = torch.autograd.grad(g @ v, xg)

    h_full = hessian(f, x)
    err = float(np.abs(hv.numpy() - hv_analytic).max())
    err_hand = float(np.abs(hv_by_hand.numpy() - hv_analytic).max())
    err_full = float(np.abs(h_full.numpy() - h_analytic).max())
    print(f"H·v analytic  {np.array2string(hv_analytic, precision=6)}")
    print(f"hvp(f, x, v)  {np.array2string(hv.numpy(), precision=6)}   max |error| {err:.1e}")
    print(
        f"grad of g·v   {np.array2string(hv_by_hand.numpy(), precision=6)}   "
        f"max |error| {err_hand:.1e}"
    )
    print(f"hessian(f, x) against ½(A + Aᵀ) + diag(6x): max |error| {err_full:.1e}")
    return {
        "hv": hv.numpy(),
        "hv_by_hand": hv_by_hand.numpy(),
        "hv_analytic": hv_analytic,
        "hessian": h_full.numpy(),
        "hessian_analytic": h_analytic,
    }


if __name__ == "__main__":
    main()
