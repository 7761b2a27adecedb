"""The ``Distribution`` base class: shapes, argument checks and the sample/rsample split."""

from __future__ import annotations

from ..autograd import no_grad
from ..tensor import Size, Tensor


class Distribution:
    """Base of every distribution: ``batch_shape`` (independent parameters) and
    ``event_shape`` (one draw's shape); subclasses define ``rsample`` or ``sample``,
    ``log_prob``, ``entropy``, ``mean`` and ``variance``."""

    has_rsample = False
    arg_constraints: dict = {}
    _validate_args = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        Distribution._validate_args = bool(value)

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape=()) -> Tensor:
        """A draw without gradient (reparameterised ones use rsample under no_grad)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sampler (rsample): its samples are "
            "discrete or not differentiable; use sample() with a score-function estimator"
        )

    def sample_n(self, n: int) -> Tensor:
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}: {getattr(self, k).shape if isinstance(getattr(self, k), Tensor) else getattr(self, k)}"  # noqa: E501
            for k in self.arg_constraints
            if k in self.__dict__
        )
        return f"{type(self).__name__}({params})"
