"""Beat PCA with a 2-D code: an autoencoder against PCA on Fashion-MNIST, same k, same split.

PCA is the best *linear* 2-D code; a nonlinear encoder and decoder can reconstruct better.
Both models are fitted on the same training images, PCA on them as the model sees them
(standardised pixels), and scored on the same test images there, with the MSE per pixel
and the squared error per image in pixel units beside.

    python examples/beat_pca.py            # a minute or two on 2 idle CPU cores

Falls back to scikit-learn's 8x8 digits (and says so) when Fashion-MNIST is not available.
"""

import time

from _common import epochs, load_images

from aekit import AutoEncoder, compare_with_pca

N_TRAIN = 10_000  # a subset of the 60,000 training images keeps this to a minute or two


def main():
    name, _, X_train, X_test, _, _ = load_images(N_TRAIN)
    print(f"{name}: {len(X_train)} training and {len(X_test)} test images, "
          f"{X_train.shape[1]} pixels each")
    ae = AutoEncoder(
        n_components=2,
        hidden_layer_sizes=(256, 64),
        batch_size=256,
        max_epochs=epochs(25),
        learning_rate=2e-3,
        random_state=0,
    )
    start = time.perf_counter()
    ae.fit(X_train)
    print(f"autoencoder: {ae.n_iter_} epochs in {time.perf_counter() - start:.0f} s\n")
    print(compare_with_pca(ae, X_train, X_test))


if __name__ == "__main__":
    main()
