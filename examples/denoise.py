"""Denoise images: a convolutional denoising autoencoder on Fashion-MNIST with noise factor 0.5.

Training images get Gaussian noise of standard deviation 0.5 (clipped to [0, 1], the pixels'
range) in every batch, and the model learns to give back the clean image. On test images
noised the same way, three errors against the clean images tell the story:

- clean:    the autoencoder on clean images (its reconstruction error);
- noisy:    the noisy images themselves (what there is to remove);
- denoised: the autoencoder on the noisy images.

With noise this strong the model never sees a clean image in training, so its error on clean
images can exceed its error on noisy ones: it is a denoiser, not a plain autoencoder.

    python examples/denoise.py              # conv, 1 to 3 minutes on 2 CPU cores
    python examples/denoise.py --dense      # the dense model, well under a minute

Falls back to scikit-learn's 8x8 digits (and says so) when Fashion-MNIST is not available.
"""

import argparse
import time

import numpy as np
from _common import epochs, load_images

from aekit import AutoEncoder

N_TRAIN, N_TEST = 10_000, 2_000  # subsets of the 60,000 / 10,000 images keep it to minutes
NOISE = 0.5


def load_data():
    name, side, X_train, X_test, _, _ = load_images(N_TRAIN, N_TEST)
    # Images (n, H, W): the conv model takes them as they are.
    return name, X_train.reshape(-1, side, side), X_test.reshape(-1, side, side)


def mse(a, b) -> float:
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dense", action="store_true", help="dense instead of conv model")
    parser.add_argument("--epochs", type=int, default=epochs(10))
    args = parser.parse_args()

    name, X_train, X_test = load_data()
    print(f"{name}: {len(X_train)} training and {len(X_test)} test images of "
          f"{X_train.shape[1]}x{X_train.shape[2]}, Gaussian noise factor {NOISE}")
    ae = AutoEncoder(
        n_components=32,
        architecture="dense" if args.dense else "conv",
        noise="gaussian",
        noise_level=NOISE,  # times the data's range (here [0, 1]): noise factor 0.5
        batch_size=128,
        max_epochs=args.epochs,
        random_state=0,
    )
    if args.dense:  # the dense model takes rows
        X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    start = time.perf_counter()
    ae.fit(X_train)
    print(f"{ae.architecture} denoising autoencoder: {ae.n_iter_} epochs in "
          f"{time.perf_counter() - start:.0f} s\n")

    rng = np.random.RandomState(1)
    X_noisy = np.clip(X_test + NOISE * rng.standard_normal(X_test.shape), 0, 1)
    X_noisy = X_noisy.astype(X_test.dtype)
    errors = {
        "clean (AE on clean input)": mse(ae.reconstruct(X_test), X_test),
        "noisy (noisy input itself)": mse(X_noisy, X_test),
        "denoised (AE on noisy input)": mse(ae.reconstruct(X_noisy), X_test),
    }
    width = max(map(len, errors))
    print(f"{'MSE per pixel against the clean test images':<{width}}")
    for label, value in errors.items():
        print(f"  {label:<{width}}  {value:.5f}")
    ratio = errors["denoised (AE on noisy input)"] / errors["noisy (noisy input itself)"]
    print(f"\nThe autoencoder removes {1 - ratio:.0%} of the noise's squared error.")


if __name__ == "__main__":
    main()
