"""Stacked greedy layer-wise pretraining (Hinton & Salakhutdinov 2006, Bengio et al. 2007)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import torch
from torch import nn

from . import losses
from .callbacks import Callback
from .loop import Corruption, fit_loop, infer, init_state


def layer_blocks(seq: nn.Sequential) -> list[nn.Sequential]:
    """Split ``seq`` into blocks, each a layer with parameters and the modules after it.

    ``[Linear, ELU, Dropout, Linear]`` -> ``[Sequential(Linear, ELU, Dropout),
    Sequential(Linear)]``.
    The blocks share the modules of ``seq`` (training a block trains ``seq``).
    """
    blocks: list[list[nn.Module]] = []
    for m in seq:
        if any(True for _ in m.parameters(recurse=False)) or not blocks:
            blocks.append([])
        blocks[-1].append(m)
    return [nn.Sequential(*b) for b in blocks]


def pretrain_greedy(
    encoder: nn.Sequential,
    decoder: nn.Sequential,
    X: torch.Tensor | Mapping[str, torch.Tensor],
    X_val: torch.Tensor | Mapping[str, torch.Tensor] | None = None,
    *,
    make_optimizer: Callable[[list], torch.optim.Optimizer],
    batch_size: int,
    max_epochs: int,
    loss: str = "mse",
    corrupt_for: Callable[[int, torch.Tensor], Corruption | None] | None = None,
    callbacks_for: Callable[[str], Sequence[Callback]] | None = None,
    autocast: torch.dtype | None = None,
) -> list[dict]:
    """Stacked greedy layer-wise pretraining of a deep autoencoder, in place.

    For encoder layer ``i`` (outermost first), a shallow autoencoder made of that layer and
    its mirror image in the decoder (the decoder's ``i``-th layer from the end) learns to
    reconstruct the previous layer's codes, with :func:`~aekit.training.loop.fit_loop`. The codes
    are computed once per layer, without gradients and in eval mode, so the layers below are
    frozen by construction and never recomputed. Because the shallow autoencoders *are* the
    deep model's layers, their trained weights end up stacked in the deep model, decoder
    layers included (mirrored); fine-tune it end to end afterwards.

    Parameters
    ----------
    encoder, decoder : nn.Sequential
        The deep model's halves; the decoder mirrors the encoder layer for layer (plain or
        tied linear layers, each followed by its activation and dropout).
    X, X_val : torch.Tensor of shape (n, d) and (n_val, d), or dict of tensors
        Training (and validation) rows in network units, or columns: the rows (``"x"``),
        their weights (``"w"``, ``sample_weight`` of mean 1) and the mask of observed
        cells (``"mask"``, 0 where a cell was imputed), as
        :func:`~aekit.training.loop.fit_loop` takes them. Every layer's loss is the
        weighted mean over rows; the first layer's leaves the imputed cells out.
    make_optimizer : callable
        ``make_optimizer(parameters)`` -> a fresh optimizer for each layer.
    batch_size, max_epochs, autocast
        As in :func:`~aekit.training.loop.fit_loop`; ``max_epochs`` is per layer.
    loss : {"mse", "bce"}
        Reconstruction loss of the first layer (which reconstructs the input); the inner
        layers reconstruct hidden codes with ``"mse"``.
    corrupt_for : callable, optional
        ``corrupt_for(layer, H)`` -> the corruption for layer ``layer`` (1-based; layer 1
        sees the input rows) trained on codes ``H``, or None: stacked denoising
        autoencoders (Vincent et al. 2010).
    callbacks_for : callable, optional
        ``callbacks_for(phase)`` -> the callbacks of one layer's loop (fresh ones where they
        keep state of their own).

    Returns
    -------
    history : list of dict
        :func:`~aekit.training.loop.fit_loop` records with phases ``"pretrain-1"``, ...
    """
    enc_blocks, dec_blocks = layer_blocks(encoder), layer_blocks(decoder)
    if len(enc_blocks) != len(dec_blocks):
        raise ValueError(
            f"greedy pretraining needs a decoder that mirrors the encoder; got {len(enc_blocks)} "
            f"encoder and {len(dec_blocks)} decoder layers"
        )
    history: list[dict] = []
    H, H_val = _columns(X), _columns(X_val)
    for i, (enc, dec) in enumerate(zip(enc_blocks, reversed(dec_blocks))):
        # The shallow model's output is a reconstruction compared with clean codes: the
        # dropout after an inner decoder block (for the next decoder layer, in the deep
        # model) would zero its targets at random and teach it to output (1 - p) times them.
        dec = nn.Sequential(*(m for m in dec if not isinstance(m, nn.Dropout)))
        shallow = nn.Sequential(enc, dec)
        phase = f"pretrain-{i + 1}"
        state = init_state(shallow, make_optimizer(list(shallow.parameters())), phase=phase)
        fit_loop(
            state,
            partial(_layer_objective, kind=loss if i == 0 else "mse"),
            H,
            H_val,
            batch_size=batch_size,
            max_epochs=max_epochs,
            corrupt=corrupt_for(i + 1, H["x"]) if corrupt_for is not None else None,
            autocast=autocast,
            callbacks=callbacks_for(phase) if callbacks_for is not None else (),
        )
        history += state["history"]
        # The next layer's inputs: this layer's codes, computed once (eval mode: no dropout).
        enc.eval()
        H, H_val = _next_columns(enc, H), _next_columns(enc, H_val)
    return history


def _columns(X) -> dict | None:
    return X if X is None or isinstance(X, Mapping) else {"x": X}


def _next_columns(enc: nn.Module, cols: dict | None) -> dict | None:
    """The codes of ``enc`` as the next layer's rows, with the same row weights; the mask
    is left behind, since every code is computed, none imputed."""
    if cols is None or not len(cols["x"]):
        return cols
    return {"x": infer(enc, cols["x"]), **({"w": cols["w"]} if "w" in cols else {})}


def _layer_objective(module: nn.Module, batch: dict, epoch, *, kind) -> dict:
    """One layer's loss: ``kind`` over rows weighted by ``"w"``; with a ``"mask"``, the
    squared error of the observed cells only, as the fine-tuning's objective for rows with
    imputed cells (:class:`~aekit.training.objectives.TabularReconstruction`) takes it."""
    x_hat, x, w = module(batch["x_in"]), batch["x"], batch.get("w")
    mask = batch.get("mask")
    if mask is None:
        return {"loss": losses.reconstruction(x_hat, x, kind, w)}
    d = x.shape[1]
    per_row = losses.table_per_row(x_hat, x, x.new_ones(d), n_numeric=d, mask=mask)
    return {"loss": losses.weighted_mean(per_row, w) / d}
