"""``save`` for every estimator: the estimator describes itself (its parameters, those it was
fitted with when they differ, the fitted attributes it declares, its module's tensors) and
:mod:`aekit.core.storage` writes the files; :func:`aekit.load` rebuilds it. Pickles
(joblib, multiprocessing) hold the module on the CPU, so they load on any machine."""

from __future__ import annotations

import copy
import itertools

import torch
from sklearn.utils.validation import check_is_fitted

from ..core.checks import user_warning
from ..core.storage import LOCATION_PARAMS, jsonable, write_model_dir
from ..core.fitted import as_fitted


class SavableMixin:
    """``save(path)`` for estimators with a torch ``module_`` and declared fitted state.

    ``_saved_attributes`` names the fitted, non-tensor attributes that go to config.json,
    as :func:`~aekit.core.storage.jsonable` writes them unless a class's ``_saved_forms``
    maps the name to another writer; a fitted attribute that is itself an aekit estimator
    is saved whole, its tensors under the attribute's name.

    A pickle holds ``module_`` on the CPU whatever device it was fitted on: torch pickles a
    tensor with its device and cannot unpickle a CUDA one on a machine without CUDA. On
    unpickling the module goes back to ``device_`` when this machine has it, else it stays
    on the CPU (``device_`` becomes the CPU) with a warning.
    """

    _saved_attributes: tuple[str, ...] = ()

    # Copies (fit_atomically's, as_fitted's) go through __reduce_ex__ as pickles do; they
    # stay on the device, so they are made here, as Python would make them.
    def __copy__(self):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo):
        new = memo[id(self)] = object.__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __getstate__(self):
        state = dict(super().__getstate__())  # object's is the instance's own __dict__
        device = state.get("device_")
        if "module_" in state and device is not None and device.type != "cpu":
            state["module_"] = _on_cpu(state["module_"])
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        device = getattr(self, "device_", None)
        if not hasattr(self, "module_") or device is None or device.type == "cpu":
            return
        if _has_device(device):
            self.module_ = self.module_.to(device)
        else:
            user_warning(f"This {type(self).__name__} was fitted on {device}, which this "
                         "machine does not have: it was unpickled onto the CPU (device_ is "
                         "now 'cpu'), with the same weights.")
            self.device_ = torch.device("cpu")

    def save(self, path) -> None:
        """Save to directory ``path`` (safetensors weights + JSON); see :func:`aekit.load`.

        Parameters
        ----------
        path : str or path-like
            A directory, created if needed; an existing model in it is replaced.

        Notes
        -----
        The model saved is the fitted one: parameters changed by ``set_params`` since
        ``fit`` are saved as they are now, beside those it was fitted with
        (``fitted_params_``), and :func:`aekit.load` gives back both.
        """
        check_is_fitted(self)
        config, tensors = self._saved_state()
        write_model_dir(path, tensors, config)

    def _saved_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(config, tensors)``: class, parameters and declared fitted state; weights.

        Parameters changed since the fit (``set_params``) are saved as they are now, and
        those the model was fitted with as the fitted field ``fitted_params_`` (only
        then), from which :func:`aekit.load` rebuilds the module: the loaded model is the
        saved one, parameters and all."""
        fitted_as = as_fitted(self)
        code = sorted({k for est in (self, fitted_as)
                       for k, v in est.get_params(deep=False).items()
                       if isinstance(v, torch.nn.Module) or (callable(v) and jsonable(v) is None)})
        if code:
            raise ValueError(
                f"{type(self).__name__} cannot be saved: {', '.join(code)} hold(s) Python "
                "code (a module or a function), which save() does not pickle. Save the "
                "weights with torch.save(est.module_.state_dict(), path) and rebuild the "
                "estimator with the same code to load them."
            )
        tensors = dict(self.module_.state_dict())
        fitted = {}
        for key in self._saved_attributes:
            if not hasattr(self, key):
                continue
            value = getattr(self, key)
            if isinstance(value, SavableMixin):
                nested, nested_tensors = value._saved_state()
                fitted[key] = {"__estimator__": type(value).__name__, **nested}
                tensors.update({f"{key}.{name}": t for name, t in nested_tensors.items()})
            else:  # a class may say how an attribute is written (a classifier's classes_)
                fitted[key] = getattr(self, "_saved_forms", {}).get(key, jsonable)(value)
        params = saved_params(self)
        if saved_params(fitted_as) != params:  # else a file older aekits read as well
            fitted["fitted_params_"] = saved_params(fitted_as)
        config = {"class": type(self).__name__, "params": params, "fitted": fitted}
        return config, tensors


def _on_cpu(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` with every parameter and buffer copied to the CPU, tied ones
    still tied (each tensor is copied once, straight to the CPU: no second copy on the
    device)."""
    memo = {}
    for t in itertools.chain(module.parameters(), module.buffers()):
        # copy=True: the copy never shares memory with the fitted model, wherever it is.
        cpu = t.detach().to("cpu", copy=True)
        memo[id(t)] = (torch.nn.Parameter(cpu, requires_grad=t.requires_grad)
                       if isinstance(t, torch.nn.Parameter) else cpu)
    return copy.deepcopy(module, memo)


def _has_device(device: torch.device) -> bool:
    """Whether this machine has ``device``: torch raises one of these on a device it was
    not built for, has no driver for, or whose index is beyond the machine's."""
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, NotImplementedError):
        return False
    return True


NOT_SAVED = ("callbacks",)
"""Parameters saved as None: Python objects that JSON cannot hold and a loaded model does
not need (``callbacks``: a loaded model has ``callbacks=None``; pass them again to refit)."""


def saved_params(estimator) -> dict:
    """``estimator``'s parameters as JSON types, those of :data:`NOT_SAVED` and
    :data:`~aekit.core.storage.LOCATION_PARAMS` as None (also in a nested estimator's,
    e.g. a classifier's autoencoder)."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in NOT_SAVED or key in LOCATION_PARAMS:  # where a fit writes: never saved
            value = None
        elif isinstance(value, SavableMixin):
            value = {"__estimator__": type(value).__name__, "params": saved_params(value)}
        params[key] = jsonable(value)
    return params
