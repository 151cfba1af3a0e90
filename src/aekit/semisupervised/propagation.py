"""Label propagation on a nearest-neighbour graph: the few labels spread to the unlabelled rows.

The semi-supervised :class:`~aekit.EncoderClassifier` propagates its labels through the
encoder's representation of all rows, then trains on the propagated labels (Iscen, Tolias,
Avrithis & Chum 2019, "Label propagation for deep semi-supervised learning", CVPR). The
steps are pure functions of tensors, in the order they run:

1. :func:`whiten`: centre the representations, rotate them onto their principal axes and
   give every axis unit variance, so that cosine similarity weighs every direction of
   variation alike, not just the few largest (PCA whitening, as in image retrieval: Jégou &
   Chum 2012, "Negative evidences and co-occurrences in image retrieval");
2. :func:`knn_graph`: each row's ``n_neighbors`` most cosine-similar rows, exact, by blocks;
3. :func:`spread_labels`: label spreading (Zhou, Bousquet, Lal, Weston & Schölkopf 2004,
   "Learning with local and global consistency") on the symmetric, normalised graph;
4. :func:`pseudo_labels`: each row's most likely class, a certainty weight from the entropy
   of its spread scores and a class-balancing weight.

Cost: the graph takes O(n^2 d) operations for n rows of d dimensions (d <= 256 after
whitening), in blocks of bounded memory: about 1.8 TFLOP for 60,000 rows of 256
dimensions, seconds on 2 CPU cores.
"""

from __future__ import annotations

import math

import torch

from ..nn.invariant import one_thread

WHITEN_DIMS = 256
"""At most this many principal directions are kept by :func:`whiten` (the autoencoder's
default first hidden layer has 256 units; docs/decisions.md, "Few labels")."""

EXACT_DIMS = 1024
"""Up to this many dimensions :func:`whiten` is exact (eigenvectors of the covariance);
wider representations use randomised PCA (Halko et al. 2011, ``torch.pca_lowrank``)."""


@torch.no_grad()
def whiten(H: torch.Tensor, max_dims: int = WHITEN_DIMS, rtol: float = 1e-5) -> torch.Tensor:
    """PCA-whitened rows: centred, on the principal axes, each axis of unit variance.

    Parameters
    ----------
    H : torch.Tensor of shape (n, d)
    max_dims : int
        Keep at most this many leading directions.
    rtol : float
        Drop directions whose variance is below ``rtol`` times the largest (noise, or the
        dead units of a ReLU layer), so nothing is divided by zero.

    Returns
    -------
    Z : torch.Tensor of shape (n, k), float32, k <= min(d, max_dims)
    """
    n, d = H.shape
    # LAPACK's eigensolver and QR (MKL's strict mode covers only matrix products) give other
    # bits on other thread counts, and the pseudo-labels, hence the fit, followed them
    # (docs/decisions.md, "Reproducibility"): they run on one thread.
    if d > EXACT_DIMS:  # wide maps (convolutions): randomised PCA, O(n d k) not O(n d^2)
        q = min(max_dims, n, d)
        with one_thread():
            U, S, _ = torch.pca_lowrank(H.float(), q=q, center=True, niter=4)
        keep = S**2 > rtol * (S[0] ** 2).clamp_min(1e-30)
        return (U[:, keep] * math.sqrt(max(n - 1, 1))).float()
    H = H.double()
    H = H - H.mean(0)
    covariance = H.T @ H / max(n - 1, 1)
    with one_thread():
        variances, axes = torch.linalg.eigh(covariance)  # ascending
    keep = variances > rtol * variances[-1].clamp_min(1e-300)
    variances, axes = variances[keep].flip(0)[:max_dims], axes[:, keep].flip(1)[:, :max_dims]
    return (H @ axes / variances.sqrt()).float()


@torch.no_grad()
def knn_graph(Z: torch.Tensor, n_neighbors: int, block: int = 1024):
    """Each row's ``n_neighbors`` nearest rows by cosine similarity, itself excluded.

    Parameters
    ----------
    Z : torch.Tensor of shape (n, d)
    n_neighbors : int
        Capped at ``n - 1``.
    block : int
        Rows compared at once: memory is ``block * n`` floats.

    Returns
    -------
    neighbors : torch.LongTensor of shape (n, k)
    similarities : torch.Tensor of shape (n, k)
        Cosine similarities, in [-1, 1], largest first.
    """
    n = len(Z)
    k = min(n_neighbors, n - 1)
    Zn = torch.nn.functional.normalize(Z.float(), dim=1)
    neighbors, similarities = [], []
    for start in range(0, n, block):
        sims = Zn[start : start + block] @ Zn.T  # (b, n)
        rows = torch.arange(start, start + len(sims), device=Z.device)
        sims[rows - start, rows] = -math.inf  # never its own neighbour
        values, index = sims.topk(k, dim=1)
        neighbors.append(index)
        similarities.append(values)
    return torch.cat(neighbors), torch.cat(similarities)


@torch.no_grad()
def spread_labels(neighbors: torch.Tensor, similarities: torch.Tensor, seeds: torch.Tensor,
                  seed_labels: torch.Tensor, n_classes: int, *, alpha: float = 0.99,
                  power: float = 3.0, n_iter: int = 50) -> torch.Tensor:
    """Label spreading from ``seeds`` over the k-nearest-neighbour graph.

    The affinity of neighbours is ``max(similarity, 0) ** power``, symmetrised
    (``W + W.T``) and normalised (``S = D^-1/2 W D^-1/2``); the scores iterate
    ``F <- alpha S F + (1 - alpha) Y`` from ``F = Y`` (Zhou et al. 2004), where ``Y`` holds
    the seeds' one-hot labels, each class's column divided by its number of seeds so that
    classes with more seeds do not spread further. ``n_iter=50`` stops the diffusion before
    it blurs the clusters (docs/decisions.md, "Few labels").

    Parameters
    ----------
    neighbors, similarities : torch.Tensor of shape (n, k)
        From :func:`knn_graph`.
    seeds : torch.LongTensor of shape (m,)
        Rows whose class is known.
    seed_labels : torch.LongTensor of shape (m,)
        Their classes, in ``[0, n_classes)``.
    n_classes : int
    alpha : float
        In (0, 1): how far labels spread (against how much the seeds hold on to theirs).
    power : float
        Sharpens the affinities: near neighbours count more.
    n_iter : int

    Returns
    -------
    scores : torch.Tensor of shape (n, n_classes)
        Non-negative; each column divided by its sum (Zhu, Ghahramani & Lafferty 2003's
        class mass normalisation), so that the row-wise largest is the predicted class.
    """
    n, k = neighbors.shape
    device = neighbors.device
    # W + W.T as an edge list: every neighbour pair both ways (a mutual pair counts twice).
    weights = similarities.clamp_min(0).pow(power).flatten()
    rows = torch.arange(n, device=device).repeat_interleave(k)
    cols = neighbors.flatten()
    rows, cols, weights = torch.cat([rows, cols]), torch.cat([cols, rows]), weights.repeat(2)
    degree = _add_rows(torch.zeros(n, device=device), rows, weights)
    scale = degree.clamp_min(1e-12).rsqrt()
    weights = (weights * scale[rows] * scale[cols])[:, None]  # S = D^-1/2 W D^-1/2

    def S_times(F: torch.Tensor) -> torch.Tensor:  # (n, c) -> (n, c)
        return _add_rows(torch.zeros_like(F), rows, weights * F[cols])

    Y = torch.zeros(n, n_classes, device=device)
    Y[seeds, seed_labels] = 1.0
    Y = Y / Y.sum(0).clamp_min(1.0)
    F = Y.clone()
    for _ in range(n_iter):
        F = alpha * S_times(F) + (1 - alpha) * Y
    F = F.clamp_min(0)
    return F / F.sum(0).clamp_min(1e-12)


def _add_rows(out: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``out.index_add_(0, index, values)``, summed in the same order every time.

    On CUDA ``index_add_`` adds with atomics, in whatever order the threads reach a row, so
    the scores, hence the pseudo-labels and their weights, changed in their last bits from
    one fit to the next with the same seed; ``index_put_`` with ``accumulate=True`` sorts
    the indices and sums each row in order there (torch's own deterministic path for
    ``index_add_``). On the CPU ``index_add_`` is kept, as it always summed.
    """
    if out.device.type == "cuda":
        return out.index_put_((index,), values, accumulate=True)
    return out.index_add_(0, index, values)


@torch.no_grad()
def pseudo_labels(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pseudo-labels and their training weights from spread scores (Iscen et al. 2019).

    Parameters
    ----------
    scores : torch.Tensor of shape (n, n_classes)
        From :func:`spread_labels`.

    Returns
    -------
    labels : torch.LongTensor of shape (n,)
        Each row's highest-scoring class.
    weights : torch.Tensor of shape (n,)
        ``certainty * balance``: certainty is ``1 - H(p) / log(n_classes)`` for ``p`` the
        row's scores normalised to sum to 1 (0 for a row no label reached), balance is
        ``n / (n_classes * count of the row's pseudo-label)``, so every class weighs alike.
    """
    n, n_classes = scores.shape
    total = scores.sum(1, keepdim=True)
    p = scores / total.clamp_min(1e-30)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1)
    certainty = (1 - entropy / math.log(n_classes)).clamp(0, 1)
    certainty[total[:, 0] <= 0] = 0.0
    labels = scores.argmax(1)
    counts = torch.bincount(labels, minlength=n_classes).float()
    balance = n / (n_classes * counts.clamp_min(1))
    return labels, certainty * balance[labels]
