"""Few labels, many images: pretrain an autoencoder without labels, then classify with 100.

1. An autoencoder learns a 32-D code from unlabelled Fashion-MNIST training images.
2. ``EncoderClassifier`` puts a softmax head on its encoder and trains on 100 labelled
   images (10 per class): the head alone (``freeze=True``) or encoder and head together
   (``freeze=False``, fine-tuning).
3. The baseline is the same network shape (784 -> 256 -> 128 -> 32 -> 10, ReLU, standardised
   input) trained from scratch on the same 100 labels: scikit-learn's MLPClassifier.

All three are scored on the 10,000 test images.

    python examples/pretrain_few_labels.py          # a minute or two on 2 idle CPU cores

Falls back to scikit-learn's 8x8 digits (and says so) when Fashion-MNIST is not available.
"""

import time

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import epochs, load_images

from aekit import AutoEncoder, EncoderClassifier

N_UNLABELLED = 10_000  # a subset of the 60,000 training images keeps this to a minute or two
LABELS_PER_CLASS = 10  # 100 labels in all
HIDDEN, CODE = (256, 128), 32


def few_labels(y, per_class, rng):
    """Indices of ``per_class`` rows of each class."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )


def main():
    name, _, X_train, X_test, y_train, y_test = load_images()
    rng = np.random.RandomState(0)
    unlabelled = rng.permutation(len(X_train))[:N_UNLABELLED]
    labelled = few_labels(y_train, LABELS_PER_CLASS, rng)
    X_lab, y_lab = X_train[labelled], y_train[labelled]
    print(f"{name}: {len(unlabelled)} unlabelled training images, {len(labelled)} labelled, "
          f"{len(X_test)} test images")

    start = time.perf_counter()
    autoencoder = AutoEncoder(
        n_components=CODE,
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        batch_size=256,
        max_epochs=epochs(20),
        learning_rate=2e-3,
        random_state=0,
    ).fit(X_train[unlabelled])
    print(f"pretrained the autoencoder: {autoencoder.n_iter_} epochs in "
          f"{time.perf_counter() - start:.0f} s\n")

    # 100 labels: no hold-out to spare, so a fixed number of epochs and no early stopping.
    few = dict(validation_fraction=0.0, early_stopping=False, random_state=0)
    models = {
        "pretrained encoder, frozen, linear head": EncoderClassifier(
            autoencoder, freeze=True, learning_rate=1e-2, max_epochs=epochs(300), **few
        ),
        "pretrained encoder, fine-tuned": EncoderClassifier(
            autoencoder, freeze=False, learning_rate=1e-3, max_epochs=epochs(100), **few
        ),
        "same network from scratch (MLPClassifier)": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(*HIDDEN, CODE), activation="relu", max_iter=epochs(300),
                random_state=0,
            ),
        ),
    }
    for label, model in models.items():
        accuracy = model.fit(X_lab, y_lab).score(X_test, y_test)
        print(f"{label:<45} test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
