"""Fully connected autoencoder: encoder MLP, code layer, mirrored (optionally tied) decoder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .layers import ScaledAutoEncoder, TiedLinear, identity_init_, make_activation, scaled_input


def mlp(
    sizes: Sequence[int], activation: str, last_activation: str, *, dropout: float = 0.0
) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Hidden layers use ``activation`` (then dropout when ``dropout > 0``); the last layer
    uses ``last_activation``.
    """
    linears = [nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return stack(linears, activation, last_activation, dropout=dropout)


def stack(
    linears: Sequence[nn.Module], activation: str, last_activation: str, *, dropout: float = 0.0
) -> nn.Sequential:
    """Interleave ``linears`` with activations (and dropout after the hidden ones)."""
    layers: list[nn.Module] = []
    for i, linear in enumerate(linears):
        layers.append(linear)
        last = i == len(linears) - 1
        act = last_activation if last else activation
        if act != "linear":
            layers.append(make_activation(act))
        if not last and dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DenseAutoEncoder(ScaledAutoEncoder):
    """Dense autoencoder with the input scaler inside.

    ``encoder`` and ``decoder`` work in the network's (scaled) units, which is what the
    training loop feeds them; ``encode`` and ``decode`` work in the caller's units.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    n_components : int
        Width of the code (bottleneck).
    hidden_layer_sizes : sequence of int
        Encoder hidden widths, outermost first; the decoder mirrors them.
    activation : str
        Hidden-layer activation.
    output_activation : str
        Activation of the decoder's last layer ("sigmoid" or "linear" in practice).
    scaler : str, None or TabularScaler
        Kind of :class:`~aekit.nn.layers.Scaler`; or a
        :class:`~aekit.nn.tabular.TabularScaler`, for a table with categorical columns:
        the encoder then starts with its :class:`~aekit.nn.tabular.TabularInput` and the
        decoder ends in its numeric columns and category logits.
    code_activation : str, default="linear"
        Activation of the code layer ("sigmoid" keeps codes in (0, 1), for KL sparsity).
    tied : bool, default=False
        The decoder is made of :class:`~aekit.nn.layers.TiedLinear` layers using the
        transposed encoder weights (own biases, no weight matrices of its own).
    dropout : float, default=0.0
        Dropout after each hidden activation, encoder and decoder (active in train mode only).
    init : {"default", "identity"}, default="default"
        ``"identity"``: linear weights set to the (zero-padded) identity, biases to zero.
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "elu",
        output_activation: str = "linear",
        scaler: str | None = "standard",
        *,
        code_activation: str = "linear",
        tied: bool = False,
        dropout: float = 0.0,
        init: str = "default",
    ):
        super().__init__()
        self.scaler, n_in, n_out, first = scaled_input(n_features, scaler)
        sizes = [n_in, *hidden_layer_sizes, n_components]
        self.encoder = mlp(sizes, activation, code_activation, dropout=dropout)
        if tied and n_in != n_out:
            raise ValueError(
                "tied=True needs the decoder's output as wide as the encoder's input, but "
                f"this table's embedded categorical columns make them {n_out} and {n_in}; "
                "use tied=False"
            )
        if tied:
            # Mirror the encoder's layers: the last encoder layer is the first to transpose.
            linears = [m for m in self.encoder if isinstance(m, nn.Linear)]
            tied_layers = [TiedLinear(m) for m in reversed(linears)]
            self.decoder = stack(tied_layers, activation, output_activation, dropout=dropout)
        else:
            self.decoder = mlp([*sizes[::-1][:-1], n_out], activation, output_activation,
                               dropout=dropout)
        if first is not None:  # a table's categories, expanded per batch (nn.tabular)
            self.encoder.insert(0, first)
        if init == "identity":
            identity_init_(self)
        elif init != "default":
            raise ValueError(f"init={init!r} is not supported; use 'default' or 'identity'")
