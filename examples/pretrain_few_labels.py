"""Few labels, many images: learn from every image, classify with 100 labels.

1. Keep 100 labels of the Fashion-MNIST training images (10 per class); the other 59,900
   are unlabelled: their label is -1, scikit-learn's convention for semi-supervised data.
2. An autoencoder learns a 32-D code from all 60,000 images (no labels).
3. ``aekit.semisupervised.comparison.compare_few_labels`` fits, on the same 100 labels, the baselines a
   careful user tries first (logistic regression on the pixels, on PCA codes, on the
   autoencoder's codes), ``EncoderClassifier`` on the labelled images alone, and
   ``EncoderClassifier`` semi-supervised (all images; the labels spread to the unlabelled
   ones through the encoder's space), and scores them all on the 10,000 test images, with
   the calibration of their probabilities (ECE, Brier) and their fit times.

    python examples/pretrain_few_labels.py          # about 3 minutes on 2 idle CPU cores

Falls back to scikit-learn's 8x8 digits (and says so) when Fashion-MNIST is not available.
"""

from _common import QUICK, epochs, load_images

from aekit import AutoEncoder, EncoderClassifier
from aekit.semisupervised.comparison import RAW, SEMI_SUPERVISED, compare_few_labels, hide_labels

LABELS_PER_CLASS = 10  # 100 labels in all


def main():
    name, _, X_train, X_test, y_train, y_test = load_images()
    y_few = hide_labels(y_train, LABELS_PER_CLASS, random_state=0)  # -1: unlabelled
    print(f"{name}: {(y_few != -1).sum()} labelled training images, {(y_few == -1).sum()} "
          f"unlabelled, {len(X_test)} test images\n")

    # 30 epochs over 60,000 images: the codes are as good for this as after 180 (measured).
    autoencoder = AutoEncoder(n_components=32, max_epochs=epochs(30), random_state=0)
    classifier = EncoderClassifier(autoencoder, max_epochs=epochs(200), random_state=0,
                                   propagation_epochs=3 if QUICK else "auto")
    comparison = compare_few_labels(X_train, y_few, X_test, y_test, autoencoder=autoencoder,
                                    classifier=classifier)
    print(comparison)
    gain = comparison.accuracy(SEMI_SUPERVISED) - comparison.accuracy(RAW)
    print(f"\nsemi-supervised against logistic regression on the pixels: {100 * gain:+.1f} "
          "points of test accuracy")


if __name__ == "__main__":
    main()
