"""Log every epoch of a fit to a CSV file with your own callback.

A callback is a subclass of ``aekit.training.callbacks.Callback`` that overrides the hooks it
needs (their names, order and arguments are in that class's docstring); every trained
estimator takes a list of them as ``callbacks=``. This one writes one CSV row per epoch of
every loop of the fit (greedy pretraining phases, restarts, the main training): the run
(restart), the loop's phase, the epoch, the losses and the seconds it took.

    python examples/csv_logger.py [--out epochs.csv]

The file is written when the fit ends (also when it fails), atomically: a reader never sees
half of it.
"""

import argparse
import csv
import io

from _common import epochs, load_images

from aekit import AutoEncoder
from aekit.core.storage import atomic_write
from aekit.training.callbacks import Callback


class CSVLogger(Callback):
    """Write every epoch's record to ``path`` as CSV, one row per epoch of every loop."""

    def __init__(self, path):
        self.path = path
        self.rows: list[dict] = []
        self.run = 0

    def on_fit_begin(self, estimator):
        self.rows = []  # a refit starts a new file

    def on_run_begin(self, estimator, run, module):
        self.run = run

    def on_epoch_end(self, state, record):
        # record: phase, epoch, loss, val_loss, seconds and the objective's other terms.
        self.rows.append({"run": self.run, **record})

    def on_fit_end(self, estimator):
        fields = list(dict.fromkeys(key for row in self.rows for key in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, text.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="epochs.csv", help="the CSV file to write")
    args = parser.parse_args()
    name, _, X_train, _, _, _ = load_images(5_000, 1)
    logger = CSVLogger(args.out)
    ae = AutoEncoder(n_components=8, max_epochs=epochs(30), n_init=2, random_state=0,
                     callbacks=[logger])
    ae.fit(X_train)
    print(f"{name}: {len(logger.rows)} epochs over {ae.n_init} restarts logged to {args.out}")
    with open(args.out, newline="") as f:
        rows = list(csv.DictReader(f))
    print("last row:", {k: rows[-1][k] for k in ("run", "phase", "epoch", "loss", "val_loss")})


if __name__ == "__main__":
    main()
