"""Parameters changed after ``fit``: the fitted model is what was fitted.

scikit-learn's rule: ``set_params`` takes effect at the next ``fit``, and a fitted estimator
goes on computing what it was fitted to compute (its fitted attributes decide, not the
parameters as they are now). Every aekit fit goes through
:func:`aekit.estimators._recovery.fit_atomically`, which records the parameters as the fit
saw them in ``fitted_params_`` (:func:`record`). Whatever reads a parameter once the fit is
over reads it there, through :func:`as_fitted`: the fitted methods (the codes' width of
``get_feature_names_out`` and ``inverse_transform``, ``score_samples``, ``predict``...),
``save`` and :func:`aekit.load` (the module is rebuilt as it was fitted), and what describes
a fitted model (``summary``, :func:`aekit.diagnose`, the reports, the ONNX export). A
``warm_start`` fit continues the fitted network, so it refuses a change to a parameter that
defines it (:class:`aekit.estimators._targets.WarmStart`, with :func:`changed`).

Whether two values of a parameter are the same setting is decided here once (:func:`same`):
for what changed since the fit (:func:`changed`) and for what differs from the defaults
(:func:`changed_params`). Only scikit-learn's parameter protocol (``get_params``, the
``__init__`` signature) is used here, no estimator class.
"""

from __future__ import annotations

import copy
import inspect

from .storage import jsonable


def record(estimator) -> None:
    """Set ``estimator.fitted_params_``: its parameters as the fit starting now sees them."""
    estimator.fitted_params_ = estimator.get_params(deep=False)


def as_fitted(estimator):
    """``estimator`` as it was fitted: a shallow copy whose parameters are its
    ``fitted_params_`` (its fitted attributes and module shared), or ``estimator`` itself
    when nothing changed since. Read it; never fit or change it."""
    params = getattr(estimator, "fitted_params_", None)
    if params is None or not changed(params, estimator.get_params(deep=False)):
        return estimator
    view = copy.copy(estimator)
    vars(view).update(params)
    return view


def same(a, b) -> bool:
    """Whether two values of a parameter are the same setting: equal as JSON (a tuple and
    a list of the same sizes, nested estimators of the same parameters) or the very same
    object (a module, a callable, a RandomState)."""
    if a is b:
        return True
    ja, jb = jsonable(a), jsonable(b)
    if ja is None and jb is None:  # objects JSON cannot hold: only the same one is the same
        return False
    return ja == jb


def changed(fitted: dict, now: dict, names=None) -> list[str]:
    """The parameters among ``names`` (default: all) whose value in ``now`` is not the
    same (:func:`same`) as in ``fitted``."""
    names = fitted.keys() if names is None else names
    return [name for name in names
            if name in fitted and name in now and not same(fitted[name], now[name])]


def changed_params(estimator, names=None) -> dict[str, object]:
    """Those of ``names`` (default: all) whose value is not the same (:func:`same`) as
    ``estimator``'s default (its ``__init__`` signature's), each with that default: the ones
    a rule may refuse or warn about, so that a parameter left at its default (a grid
    search's other candidates) never is; and the ones a report lists as set."""
    defaults = inspect.signature(type(estimator).__init__).parameters
    params = estimator.get_params(deep=False)
    names = params.keys() if names is None else names
    return {name: defaults[name].default for name in names
            if name in defaults and not same(params[name], defaults[name].default)}
