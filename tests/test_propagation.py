"""Label propagation on a k-nearest-neighbour graph: whitening, the graph, spreading, weights."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors

from aekit.nn.invariant import on_threads
from aekit.semisupervised.propagation import knn_graph, pseudo_labels, spread_labels, whiten


def test_whiten_gives_uncorrelated_unit_variance_axes():
    g = torch.Generator().manual_seed(0)
    H = torch.randn(2000, 6, generator=g) @ torch.randn(6, 6, generator=g) * 5 + 3
    Z = whiten(H)
    assert Z.shape == (2000, 6)
    cov = torch.cov(Z.double().T)
    torch.testing.assert_close(cov, torch.eye(6, dtype=torch.float64), atol=1e-4, rtol=0)


def test_whiten_drops_constant_directions_and_caps_the_dimension():
    g = torch.Generator().manual_seed(0)
    H = torch.cat([torch.randn(500, 4, generator=g), torch.zeros(500, 3)], dim=1)  # dead units
    Z = whiten(H)
    assert Z.shape == (500, 4) and torch.isfinite(Z).all()
    assert whiten(H, max_dims=2).shape == (500, 2)


def test_whiten_of_wide_maps_is_randomised_pca_with_unit_variance():
    g = torch.Generator().manual_seed(0)
    H = torch.randn(400, 30, generator=g) @ torch.randn(30, 2000, generator=g)  # rank 30
    Z = whiten(H, max_dims=20)
    assert Z.shape == (400, 20)
    torch.testing.assert_close(Z.var(0, unbiased=True), torch.ones(20), atol=1e-3, rtol=0)


@pytest.mark.parametrize("width", [256, 2000])  # eigenvectors; randomised PCA
def test_whiten_gives_the_same_bits_on_one_and_two_threads(width):
    # LAPACK's eigensolver and QR round otherwise on 2 threads, and EncoderClassifier's
    # pseudo-labels, hence its fit, followed them.
    H = torch.rand(600, width, generator=torch.Generator().manual_seed(0))

    def whitened(threads):
        torch.manual_seed(0)  # the randomised PCA's draw
        with on_threads(threads):
            return whiten(H)

    assert torch.equal(whitened(1), whitened(2))


def test_knn_graph_matches_brute_force_cosine_neighbours():
    rng = np.random.RandomState(0)
    Z = rng.randn(300, 5).astype(np.float32)
    neighbors, similarities = knn_graph(torch.from_numpy(Z), 7, block=64)  # several blocks
    _, expected = NearestNeighbors(n_neighbors=8, metric="cosine").fit(Z).kneighbors(Z)
    np.testing.assert_array_equal(np.sort(neighbors.numpy(), 1), np.sort(expected[:, 1:], 1))
    assert (neighbors.numpy() != np.arange(300)[:, None]).all()  # never itself
    assert (np.diff(similarities.numpy(), axis=1) <= 0).all()  # nearest first


def test_knn_graph_caps_the_neighbours_at_n_minus_one():
    neighbors, _ = knn_graph(torch.randn(4, 3), 10)
    assert neighbors.shape == (4, 3)


def test_spreading_labels_every_row_of_separated_clusters_from_one_seed_each():
    # Cosine similarity of whitened rows compares directions from the mean: informative in
    # several dimensions (hidden layers, codes), not in 2.
    X, y = make_blobs(600, n_features=8, centers=4, cluster_std=2.0, random_state=0)
    neighbors, similarities = knn_graph(whiten(torch.tensor(X)), 10)
    seeds = torch.tensor([np.flatnonzero(y == c)[0] for c in range(4)])
    scores = spread_labels(neighbors, similarities, seeds, torch.tensor(y)[seeds], 4)
    assert scores.shape == (600, 4) and (scores >= 0).all()
    torch.testing.assert_close(scores.sum(0), torch.ones(4))  # class mass normalised
    assert (scores.argmax(1).numpy() == y).mean() > 0.99


def test_pseudo_label_weights_are_certainty_times_class_balance():
    scores = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1], [0.0, 0.0]])
    labels, weights = pseudo_labels(scores)
    np.testing.assert_array_equal(labels.numpy(), [0, 0, 0, 0])
    # 4 rows, all of class 0: balance 4 / (2 * 4) = 0.5; certainty 1, 0, 1 - H(0.9, 0.1) /
    # log 2, and 0 for the row no label reached.
    entropy = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(weights.numpy(), [0.5, 0.0, 0.5 * (1 - entropy / np.log(2)), 0.0],
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_pseudo_label_balance_weighs_every_class_alike(n_classes):
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(1000, n_classes, generator=g) ** 4
    scores[:, 0] += 0.5  # class 0 wins most rows
    labels, weights = pseudo_labels(scores)
    p = scores / scores.sum(1, keepdim=True)
    certainty = 1 - (-(p * p.log()).sum(1)) / np.log(n_classes)
    balance = weights / certainty
    per_class = torch.zeros(n_classes).index_add_(0, labels, balance)
    present = torch.bincount(labels, minlength=n_classes) > 0
    expected = torch.full((int(present.sum()),), 1000 / n_classes)
    torch.testing.assert_close(per_class[present], expected, rtol=1e-4, atol=0)
