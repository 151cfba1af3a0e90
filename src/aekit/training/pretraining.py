"""Stacked greedy layer-wise pretraining (Hinton & Salakhutdinov 2006, Bengio et al. 2007)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    X: torch.Tensor,
    X_val: torch.Tensor | None = None,
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
    X, X_val : torch.Tensor of shape (n, d) and (n_val, d)
        Training (and validation) rows in network units.
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
    H, H_val = X, X_val
    for i, (enc, dec) in enumerate(zip(enc_blocks, reversed(dec_blocks))):
        shallow = nn.Sequential(enc, dec)
        kind = loss if i == 0 else "mse"

        def objective(module, batch, epoch, kind=kind):
            return {"loss": losses.reconstruction(module(batch["x_in"]), batch["x"], kind)}

        phase = f"pretrain-{i + 1}"
        state = init_state(shallow, make_optimizer(list(shallow.parameters())), phase=phase)
        fit_loop(
            state,
            objective,
            H,
            H_val,
            batch_size=batch_size,
            max_epochs=max_epochs,
            corrupt=corrupt_for(i + 1, H) if corrupt_for is not None else None,
            autocast=autocast,
            callbacks=callbacks_for(phase) if callbacks_for is not None else (),
        )
        history += state["history"]
        # The next layer's inputs: this layer's codes, computed once (eval mode: no dropout).
        enc.eval()
        H = infer(enc, H)
        H_val = infer(enc, H_val) if H_val is not None and len(H_val) else H_val
    return history
