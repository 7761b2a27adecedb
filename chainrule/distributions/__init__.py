"""``chainrule.distributions``: probability distributions with PyTorch's interface.

``Normal``, ``Uniform`` (reparameterised: ``rsample`` lets gradients flow to their parameters),
``Bernoulli`` and ``Categorical``; ``log_prob``, ``entropy``, ``mean``, ``variance``,
``sample``, and ``kl_divergence`` for pairs of the same family.
"""

from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .simple import Bernoulli, Categorical, Normal, Uniform

__all__ = [
    "Distribution",
    "Normal",
    "Uniform",
    "Bernoulli",
    "Categorical",
    "kl_divergence",
    "register_kl",
]
