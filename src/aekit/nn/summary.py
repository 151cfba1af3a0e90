"""A layer table of a network, as Keras' ``model.summary()`` prints it: each layer's name,
type, output shape and parameter count, found by passing one row through the network.

:func:`layer_table` works on any ``nn.Module`` with a ``scaler`` / ``encoder`` / ``decoder``
(or ``head``) layout; estimators wrap it as ``summary()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class Layer:
    """One row of a layer table: ``name`` in the module (``"encoder.0"``), ``kind`` (the
    class name), ``output_shape`` of one row (without the batch axis), ``params`` (its own
    parameters; a tied layer counts only its bias) and ``trainable`` (those that train)."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable: int


@dataclass(frozen=True)
class ModelSummary:
    """What ``estimator.summary()`` returns: prints as a table; ``layers`` for programs.

    Attributes
    ----------
    title : str
    layers : list of Layer
        In the order the forward pass reaches them.
    total, trainable : int
        Parameters of the whole network (each shared tensor once).
    precision : str
        The arithmetic of the training steps (the estimator's ``precision``).
    notes : list of str
    """

    title: str
    layers: list[Layer]
    total: int
    trainable: int
    precision: str
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(layer, type, output shape, parameters) as display strings."""
        return [(layer.name, layer.kind, _shape(layer.output_shape), f"{layer.params:,}")
                for layer in self.layers]

    def __str__(self) -> str:
        head = ("layer", "type", "output shape", "params")
        rows = self.rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]

        def line(r):
            return "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                              r[2].ljust(widths[2]), r[3].rjust(widths[3])])

        rule = "-" * len(line(head))
        totals = (f"parameters: {self.total:,} ({self.trainable:,} trainable), "
                  f"precision: {self.precision}")
        out = [self.title, rule, line(head), rule, *map(line, rows), rule, totals, *self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)


def _shape(shape) -> str:
    if shape and isinstance(shape[0], tuple):  # several outputs (a posterior's two heads)
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)


def _is_layer(m: nn.Module) -> bool:
    """A module with no children but empty containers (a table's input layer without
    embeddings), and not itself a container."""
    if isinstance(m, _CONTAINERS):
        return False
    return all(isinstance(c, _CONTAINERS) and not list(c.children()) for c in m.children())


def _leaves(module: nn.Module) -> dict[nn.Module, str]:
    """Each layer (see :func:`_is_layer`) with its name; the first name of a shared one."""
    leaves: dict[nn.Module, str] = {}
    for name, m in module.named_modules():
        if name and m not in leaves and _is_layer(m):
            leaves[m] = name
    return leaves


def default_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """scaler -> encoder (a posterior's both heads when it has ``distribution``) ->
    decoder or head: every layer a summary should reach."""
    h = module.scaler(x) if hasattr(module, "scaler") else x
    encoder = module.encoder
    z = encoder.distribution(h)[0] if hasattr(encoder, "distribution") else encoder(h)
    last = module.head if hasattr(module, "head") else module.decoder
    return last(z)


@torch.no_grad()
def layer_table(module: nn.Module, n_features: int,
                forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] = default_forward,
                ) -> tuple[list[Layer], int, int]:
    """``(layers, total, trainable)`` of ``module`` for rows of ``n_features``.

    One row of zeros passes through ``forward(module, x)`` in eval mode; forward hooks
    record each leaf layer's output shape the first time it runs. Leaves the forward pass
    never reaches are listed at the end with an empty shape. The module's mode is restored.
    """
    leaves = _leaves(module)
    seen: dict[nn.Module, tuple] = {}

    def hook(m, _inp, out):
        if m not in seen:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            shapes = tuple(tuple(o.shape[1:]) for o in outs if isinstance(o, torch.Tensor))
            seen[m] = shapes[0] if len(shapes) == 1 else shapes

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = module.training
    module.eval()
    try:
        device = next(module.parameters(), torch.empty(0)).device
        forward(module, torch.zeros(1, n_features, device=device))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    order = [m for m in seen] + [m for m in leaves if m not in seen]
    layers = [
        Layer(leaves[m], type(m).__name__, seen.get(m, ()),
              sum(p.numel() for p in m.parameters(recurse=False)),
              sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad))
        for m in order
    ]
    params = list(module.parameters())  # each shared tensor once
    return (layers, sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))
