"""The checks of a network's units, for :func:`aekit.diagnose`: rows are passed through the
model's ``encode`` and ``decode`` in eval mode while forward hooks on its activation modules
record what each unit outputs, and those records are judged:

- ``dead_units``: ReLU units that never activate on the rows given (no gradient, no recovery);
- ``saturated_units``: tanh / sigmoid units pinned near their limits on most rows;
- ``bottleneck``: a hidden layer whose outputs span fewer directions than the code has
  dimensions, named as the cause when features are reconstructed poorly.

The network is inspected, never changed (the hooks are removed and its train / eval mode
restored). The decoder's output activation is not judged: its outputs sit at the limits of
the data by design. Duck-typed like every check: a torch ``module_`` with ``encode`` and
``decode``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import quality
from .findings import Finding, _learning_rate
from ..nn.invariant import is_activation

_RELU = (nn.ReLU, nn.ReLU6)
_SATURATING = (nn.Tanh, nn.Sigmoid)


def _output_activation(module: nn.Module) -> nn.Module | None:
    # The decoder's last activation shapes the reconstruction (a sigmoid for [0, 1] data);
    # its outputs sit near 0 on a white background by design, so it is not judged.
    decoder = getattr(module, "decoder", None)
    if decoder is None:
        return None
    leaves = [m for m in decoder.modules() if not list(m.children())]
    return leaves[-1] if leaves and isinstance(leaves[-1], _SATURATING + _RELU) else None


def _unit_stats(module: nn.Module, x: torch.Tensor, saturation: float) -> dict[str, dict]:
    """Per activation module: units ever active (ReLU), rows saturated per unit (tanh,
    sigmoid), and the outputs of dense layers (``"outputs"``, rows x units)."""
    skip = _output_activation(module)
    stats: dict[str, dict] = {}
    hooks = []

    def hook_for(name: str, act: nn.Module):
        def hook(_mod, _inp, out):
            if not isinstance(out, torch.Tensor) or out.dim() < 2:
                return
            # Units along dim 1; conv feature maps count each position as a row.
            o = out.detach().transpose(0, 1).reshape(out.shape[1], -1).float()
            s = stats.setdefault(
                name,
                {"type": type(act).__name__, "units": o.shape[0], "rows": 0,
                 "active": torch.zeros(o.shape[0], dtype=torch.bool, device=o.device),
                 "saturated": torch.zeros(o.shape[0], device=o.device)},
            )
            s["rows"] += o.shape[1]
            if out.dim() == 2:
                s.setdefault("outputs", []).append(out.detach().float().cpu())
            if isinstance(act, _RELU):
                s["active"] |= (o > 0).any(dim=1)
            elif isinstance(act, nn.Tanh):
                s["saturated"] += (o.abs() > saturation).sum(dim=1)
            elif isinstance(act, nn.Sigmoid):
                s["saturated"] += ((o > saturation) | (o < 1 - saturation)).sum(dim=1)
        return hook

    for name, m in module.named_modules():
        if is_activation(m) and m is not skip:
            hooks.append(m.register_forward_hook(hook_for(name, m)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), 4096):
                xb = x[i : i + 4096]
                z = module.encode(xb)
                z = z[0] if isinstance(z, (tuple, list)) else z
                module.decode(z, like=xb) if _accepts_like(module) else module.decode(z)
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return stats


def _accepts_like(module: nn.Module) -> bool:
    import inspect

    try:
        return "like" in inspect.signature(module.decode).parameters
    except (TypeError, ValueError):
        return False


def _check_units(estimator, module, X, saturation, saturated_rows, r2=None,
                 collapse_ratio=1e-3) -> list[Finding]:
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    # Modules take flat rows (the estimator flattens images before its module sees them).
    x = torch.tensor(X.reshape(len(X), -1), dtype=torch.float32, device=device)
    stats = _unit_stats(module, x, saturation)
    findings = []

    relu = {n: s for n, s in stats.items() if s["type"] in ("ReLU", "ReLU6")}
    if relu:
        dead = {n: int((~s["active"]).sum()) for n, s in relu.items()}
        total = sum(s["units"] for s in relu.values())
        n_dead = sum(dead.values())
        if n_dead:
            frac = n_dead / total
            per_layer = ", ".join(
                f"{n}: {dead[n]}/{relu[n]['units']}" for n in relu if dead[n]
            )
            findings.append(Finding(
                "dead_units",
                "error" if frac >= 0.5 else "warning" if frac >= 0.1 else "info",
                f"{n_dead} of {total} ReLU units ({frac:.0%}) never activate on the "
                f"{len(X)} rows given ({per_layer}). A dead ReLU outputs 0 and gets no "
                "gradient, so it never recovers.",
                "Use activation='elu' (the default) or 'leaky_relu', lower learning_rate "
                f"(now {_learning_rate(estimator)}), or refit with another random_state.",
                {"fraction": frac, "dead": n_dead, "units": total,
                 "layers": {n: {"dead": dead[n], "units": relu[n]["units"]} for n in relu}},
            ))

    findings += _check_bottleneck(estimator, stats, r2, collapse_ratio, X)
    sat = {n: s for n, s in stats.items() if s["type"] in ("Tanh", "Sigmoid") and s["rows"]}
    if sat:
        flagged = {
            n: int((s["saturated"] / s["rows"] >= saturated_rows).sum()) for n, s in sat.items()
        }
        total = sum(s["units"] for s in sat.values())
        n_sat = sum(flagged.values())
        if n_sat:
            frac = n_sat / total
            per_layer = ", ".join(
                f"{n} ({sat[n]['type'].lower()}): {flagged[n]}/{sat[n]['units']}"
                for n in sat if flagged[n]
            )
            findings.append(Finding(
                "saturated_units",
                "error" if frac >= 0.5 else "warning" if frac >= 0.1 else "info",
                f"{n_sat} of {total} tanh/sigmoid units ({frac:.0%}) are saturated (output "
                f"beyond {saturation:g} of its limit) on at least {saturated_rows:.0%} of the "
                f"rows ({per_layer}). Saturated units pass almost no gradient.",
                "Keep the input scaler on (scaler='standard'), lower learning_rate, or use "
                "activation='elu', which does not saturate for positive inputs.",
                {"fraction": frac, "saturated": n_sat, "units": total,
                 "layers": {n: {"saturated": flagged[n], "units": sat[n]["units"]}
                            for n in sat}},
            ))
    return findings


def _effective_width(outputs: list[torch.Tensor], ratio: float) -> int:
    """How many independent directions a layer's outputs span on the rows: the principal
    variances at least ``ratio`` times the largest. Everything downstream of the layer is
    a function of that many numbers."""
    A = torch.cat(outputs).double()
    var = torch.linalg.svdvals(A - A.mean(0)).pow(2)
    return int((var >= ratio * var.max()).sum()) if float(var.max()) > 0 else 0


def _check_bottleneck(estimator, stats, r2, ratio, X) -> list[Finding]:
    """A hidden layer whose outputs span fewer directions than the code has dimensions,
    named as the cause when features are reconstructed poorly (R² < 0.5)."""
    k = getattr(estimator, "n_components", None)
    # n rows, centred, span at most n - 1 directions: on k rows or fewer every layer looks
    # narrower than the code, whatever the model.
    if not isinstance(k, int) or r2 is None or len(X) <= k:
        return []
    widths = {n: _effective_width(s["outputs"], ratio) for n, s in stats.items()
              if s.get("outputs") and s["units"] >= 1}
    if not widths:
        return []
    name = min(widths, key=widths.get)
    width = widths[name]
    counted = quality.counted_features(X.reshape(len(X), -1))
    failing = np.flatnonzero(counted & (r2 < 0.5))
    if width >= k or not len(failing):
        return []
    s = stats[name]
    dead = int((~s["active"]).sum()) if s["type"] in ("ReLU", "ReLU6") else 0
    cause = (f"{dead} of its {s['units']} ReLU units are dead (never active) and the "
             "others move together" if dead else
             f"its {s['units']} units move together")
    lost = ", ".join(f"{quality.feature_label(estimator, j)} R² {r2[j]:.2f}"
                     for j in failing[:4])
    what = (f"Layer {name} passes on only {width} independent direction(s), fewer than the "
            f"{k} code dimensions: {cause}, so everything after it is a function of {width} "
            f"number(s). This is why {len(failing)} feature(s) are lost ({lost}).")
    todo = ("Use activation='elu' (the default) or 'leaky_relu', keep the input scaler on "
            "(scaler='standard'), lower learning_rate "
            f"(now {_learning_rate(estimator)}), or widen the hidden layers.")
    return [Finding("bottleneck", "error", what, todo,
                    {"layer": name, "width": width, "dead": dead, "units": s["units"],
                     "widths": widths, "failing_features": failing.tolist()})]
