"""The benchmark suite: one table of aekit against its peers, how it scales, and peak memory.

Rows (workload of ``_common``: 784-512-128-2-128-512-784, ELU, linear code, sigmoid output,
MSE, Adam 1e-3, batch 128, float32, Fashion-MNIST 60,000 rows or synthetic data that shape):

- the plain hand-written PyTorch loop and ``aekit.AutoEncoder``, alternated in this process
  (plain, aekit, plain, aekit, ...), medians over ``--repeats``: their ratio is the number
  that says what aekit costs;
- Keras 3 on TensorFlow, the same network (only when ``import tensorflow`` works);
- scikit-learn's ``MLPRegressor`` fit X -> X: ReLU everywhere (its only comparable
  activation, so the 2-unit code is ReLU too) and an identity output;
- PCA with as many components as the code, the baseline every autoencoder must beat on
  test MSE;
- aekit at 1/6, 1/2 and all of the rows (10k, 30k, 60k: is time per epoch linear in rows?)
  and with codes of 2, 16 and 64 (alternated in this process too).

Peak memory (VmHWM, the peak resident set size) of every row comes from a fresh process
that runs just that configuration (``--one SPEC``), so peaks do not contaminate each other;
it includes the interpreter, the library and the data. Keras, scikit-learn and PCA are timed
in those processes too, each library alone in its process (TensorFlow and torch would compete
for threads and memory in one).

    python bench/suite.py                  # full size: minutes, on a quiet machine
    python bench/suite.py --quick          # smoke run: a minute or two, mostly imports
    python bench/suite.py --rows 60000 --epochs 2 --repeats 3 --json bench/results/suite.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "suite.json"
RESULT_TAG = "SUITE-RESULT "
ROW_FRACTIONS = (1 / 6, 1 / 2, 1)  # of --rows: 10k, 30k, 60k at full size
CODE_SIZES = (2, 16, 64)
LOAD_LIMIT = 0.5


# --------------------------------------------------------------------------- one configuration
# Runs in a fresh process (``--one SPEC``). Only the library under test is imported, so the peak
# memory is that library's: torch is not loaded for Keras, scikit-learn or PCA.


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    On Linux, VmHWM of /proc/self/status: ``ru_maxrss`` would be wrong here, since Linux
    carries it over from the parent through fork and exec, so every configuration would
    report at least the suite's own peak. Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def read_rows(path: str, rows: int | None = None) -> np.ndarray:
    """The first ``rows`` rows of a 2-D ``.npy`` file, read straight into memory (no memory
    map: a mapped file's pages would count in the peak RSS on top of the copy)."""
    fmt = np.lib.format
    with open(path, "rb") as f:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(f)
        n = shape[0] if rows is None else min(rows, shape[0])
        return np.fromfile(f, dtype=dtype, count=n * shape[1]).reshape(n, shape[1])


def mse(X: np.ndarray, X_hat: np.ndarray) -> float:
    return float(np.mean((X - X_hat) ** 2))


def one_torch(spec: dict, X: np.ndarray, X_test: np.ndarray) -> dict:
    import torch

    from _common import aekit_fit, plain_fit, reconstruction_mse

    if spec["kind"] == "plain":
        def fit(data, epochs):
            return plain_fit(torch.from_numpy(data), epochs, spec["seed"], spec["code"])
    else:
        def fit(data, epochs):
            return aekit_fit(data, epochs, spec["seed"], spec["code"])
    fit(X[:2048], 1)  # warm-up, as in the alternated runs
    res = fit(X, spec["epochs"])
    return {"seconds_per_epoch": res.seconds_per_epoch, "train_loss": res.loss,
            "test_mse": reconstruction_mse(res, X_test), "threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__}}


def one_keras(spec: dict, X: np.ndarray, X_test: np.ndarray) -> dict:
    try:
        import keras
        import tensorflow as tf
    except ImportError as err:
        return {"status": "not installed", "error": f"{type(err).__name__}: {err}"}
    if keras.backend.backend() != "tensorflow" or int(keras.__version__.split(".")[0]) < 3:
        return {"status": f"not run: needs Keras 3 on TensorFlow, found Keras "
                          f"{keras.__version__} on {keras.backend.backend()}"}

    hidden, code = spec["hidden"], spec["code"]

    def build():
        layers = [keras.Input((X.shape[1],))]
        layers += [keras.layers.Dense(h, activation="elu") for h in hidden]
        layers += [keras.layers.Dense(code)]  # linear code
        layers += [keras.layers.Dense(h, activation="elu") for h in hidden[::-1]]
        layers += [keras.layers.Dense(X.shape[1], activation="sigmoid")]
        model = keras.Sequential(layers)
        model.compile(optimizer=keras.optimizers.Adam(spec["lr"]), loss="mse")
        return model

    class EpochTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    keras.utils.set_random_seed(spec["seed"])
    build().fit(X[:2048], X[:2048], batch_size=spec["batch"], epochs=1, verbose=0)  # warm-up
    keras.utils.set_random_seed(spec["seed"])
    model, epoch_times = build(), EpochTimes()
    start = time.perf_counter()
    history = model.fit(X, X, batch_size=spec["batch"], epochs=spec["epochs"], shuffle=True,
                        verbose=0, callbacks=[epoch_times])
    elapsed = time.perf_counter() - start
    X_hat = model.predict(X_test, batch_size=8192, verbose=0)
    return {"seconds_per_epoch": elapsed / spec["epochs"], "epoch_seconds": epoch_times.seconds,
            "train_loss": float(history.history["loss"][-1]), "test_mse": mse(X_test, X_hat),
            "jit_compile": str(getattr(model, "jit_compile", "?")),
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                         "keras_backend": keras.backend.backend()}}


def one_sklearn(spec: dict, X: np.ndarray, X_test: np.ndarray) -> dict:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    hidden = (*spec["hidden"], spec["code"], *spec["hidden"][::-1])

    def make(epochs):
        return MLPRegressor(
            hidden_layer_sizes=hidden, activation="relu", solver="adam", alpha=0.0,
            batch_size=spec["batch"], learning_rate_init=spec["lr"], max_iter=epochs,
            shuffle=True, random_state=spec["seed"], tol=0.0, n_iter_no_change=epochs + 1,
            early_stopping=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the point here
        make(1).fit(X[:2048], X[:2048])  # warm-up
        mlp = make(spec["epochs"])
        start = time.perf_counter()
        mlp.fit(X, X)
        elapsed = time.perf_counter() - start
    return {"seconds_per_epoch": elapsed / mlp.n_iter_, "epochs_run": mlp.n_iter_,
            # scikit-learn's squared-error loss is half the MSE
            "train_loss": 2 * float(mlp.loss_), "test_mse": mse(X_test, mlp.predict(X_test)),
            "dtype": str(mlp.coefs_[0].dtype), "versions": {"scikit-learn": sklearn.__version__}}


def one_pca(spec: dict, X: np.ndarray, X_test: np.ndarray) -> dict:
    import sklearn
    from sklearn.decomposition import PCA

    start = time.perf_counter()
    pca = PCA(n_components=spec["code"], random_state=spec["seed"]).fit(X)
    elapsed = time.perf_counter() - start
    return {"fit_seconds": elapsed,
            "train_loss": mse(X, pca.inverse_transform(pca.transform(X))),
            "test_mse": mse(X_test, pca.inverse_transform(pca.transform(X_test))),
            "versions": {"scikit-learn": sklearn.__version__}}


ONE = {"plain": one_torch, "aekit": one_torch, "keras": one_keras, "sklearn": one_sklearn,
       "pca": one_pca}


def run_one(spec: dict) -> dict:
    X = read_rows(spec["train"], spec["rows"])
    X_test = read_rows(spec["test"])
    data_rss = peak_rss_mb()  # interpreter, NumPy and the data; no library under test yet
    result = {"status": "ok", **ONE[spec["kind"]](spec, X, X_test)}
    if result["status"] == "ok":
        result.update(peak_rss_mb=peak_rss_mb(), data_rss_mb=data_rss)
    return result


def spawn_one(spec: dict) -> dict:
    """Run one configuration in a fresh interpreter and return what it reports."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    command = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return {**json.loads(line[len(RESULT_TAG):]), "process_seconds": wall}
    last = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
    return {"status": "failed", "error": f"exit code {proc.returncode}: {last[0][:200]}",
            "stderr_tail": proc.stderr[-4000:], "process_seconds": wall}


# --------------------------------------------------------------------------- the machine


def machine_info() -> dict:
    import sklearn
    import torch

    cpu = platform.processor() or platform.machine()
    mem = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       cpu)
        with open("/proc/meminfo") as f:
            kb = next((int(ln.split()[1]) for ln in f if ln.startswith("MemTotal")), None)
            mem = round(kb / 2**20, 1) if kb else None
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "memory_gb": mem,
            "torch_threads": torch.get_num_threads(), "os": platform.platform(),
            "python": platform.python_version(),
            "versions": {"torch": torch.__version__, "numpy": np.__version__,
                         "scikit-learn": sklearn.__version__}}


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_warning(load: float | None, cores: int) -> str | None:
    if load is None or load <= LOAD_LIMIT:
        return None
    return (f"load average {load:.2f} before the run (> {LOAD_LIMIT}) on {cores} cores: other "
            "processes are using the CPU, so these timings are UNRELIABLE; rerun on a quiet "
            "machine")


def banner(text: str) -> str:
    line = "!" * min(100, len(text) + 13)
    return f"{line}\n!!! WARNING: {text}\n{line}"


# --------------------------------------------------------------------------- the suite


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="training rows (default 60000; --quick: 2000)")
    parser.add_argument("--epochs", type=int, help="epochs per timed fit (default 2; --quick: 1)")
    parser.add_argument("--repeats", type=int,
                        help="alternated runs per in-process configuration (default 3; "
                             "--quick: 1)")
    parser.add_argument("--skip-keras", action="store_true", help="leave out the Keras row")
    parser.add_argument("--skip-sklearn", action="store_true",
                        help="leave out the scikit-learn MLPRegressor row")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes for a smoke run (2000 rows, 1 epoch, 1 repeat, "
                             "1000 test rows); explicit flags still win")
    parser.add_argument("--json", default=str(DEFAULT_JSON),
                        help=f"where to write the results (default {DEFAULT_JSON})")
    parser.add_argument("--one", metavar="SPEC", help=argparse.SUPPRESS)  # internal: one config
    args = parser.parse_args(argv)
    quick = {"rows": 2000, "epochs": 1, "repeats": 1}
    full = {"rows": 60000, "epochs": 2, "repeats": 3}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("rows", "epochs", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    args.test_rows = 1000 if args.quick else None
    return args


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def alternate(configs: list[tuple[str, int, int]], X: np.ndarray, X_test: np.ndarray,
              epochs: int, repeats: int, code0: int) -> dict:
    """Round-robin over the torch configurations ``repeats`` times, in this process."""
    import torch

    from _common import aekit_fit, plain_fit, reconstruction_mse, warm_up

    X_t = torch.from_numpy(X)
    warm_up(X)
    runs = {cfg: {"seconds_per_epoch": [], "train_loss": [], "test_mse": []} for cfg in configs}
    for r in range(repeats):
        for cfg in configs:
            kind, rows, code = cfg
            if kind == "plain":
                res = plain_fit(X_t[:rows], epochs, r, code)
            else:
                res = aekit_fit(X[:rows], epochs, r, code)
            test = reconstruction_mse(res, X_test)
            for key, value in zip(runs[cfg], (res.seconds_per_epoch, res.loss, test), strict=True):
                runs[cfg][key].append(value)
            progress(f"  run {r + 1}/{repeats} {label(kind, rows, code, len(X), code0):<24} "
                     f"{res.seconds_per_epoch:7.3f} s/epoch, loss {res.loss:.5f}, "
                     f"test {test:.5f}")
    return runs


def label(kind: str, rows: int, code: int, full_rows: int, base_code: int) -> str:
    name = {"plain": "plain PyTorch loop", "aekit": "aekit AutoEncoder",
            "keras": "Keras 3 (TensorFlow)", "sklearn": "sklearn MLPRegressor",
            "pca": f"PCA({code})"}[kind]
    if kind == "aekit" and rows != full_rows:
        return f"aekit, {rows:,} rows"
    if kind == "aekit" and code != base_code:
        return f"aekit, code {code}"
    return name


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.one:
        spec = json.loads(args.one)
        print(RESULT_TAG + json.dumps(run_one(spec)), flush=True)
        return {}

    from _common import BATCH, CODE, HIDDEN, LR, load_split

    t_start = time.perf_counter()
    load_before = load_average()
    machine = machine_info()
    warning = load_warning(load_before, machine["cores"])
    if warning:
        print(banner(warning), flush=True)

    X, X_test, source = load_split(args.rows, args.test_rows)
    R = len(X)
    scale_rows = sorted({max(1, round(R * f)) for f in ROW_FRACTIONS})
    torch_configs = [("plain", R, CODE), ("aekit", R, CODE)]
    torch_configs += [("aekit", n, CODE) for n in scale_rows if n != R]
    torch_configs += [("aekit", R, k) for k in CODE_SIZES if k != CODE]

    progress(f"alternating {len(torch_configs)} torch configurations in this process, "
             f"{args.repeats} x {args.epochs} epoch(s) each ...")
    runs = alternate(torch_configs, X, X_test, args.epochs, args.repeats, CODE)

    # Every configuration once more, each in a fresh process: peak memory (and the timings of
    # the libraries that cannot share this process).
    solo_specs = [*torch_configs]
    solo_specs += [("keras", R, CODE), ("sklearn", R, CODE), ("pca", R, CODE)]
    solo = {}
    with tempfile.TemporaryDirectory(prefix="aekit-bench-") as tmp:
        train_path, test_path = Path(tmp, "train.npy"), Path(tmp, "test.npy")
        np.save(train_path, X)
        np.save(test_path, X_test)
        for kind, rows, code in solo_specs:
            cfg = (kind, rows, code)
            if kind == "keras" and args.skip_keras:
                solo[cfg] = {"status": "skipped (--skip-keras)"}
                continue
            if kind == "sklearn" and args.skip_sklearn:
                solo[cfg] = {"status": "skipped (--skip-sklearn)"}
                continue
            progress(f"  own process: {label(kind, rows, code, R, CODE)} ...")
            spec = {"kind": kind, "rows": rows, "code": code, "hidden": list(HIDDEN),
                    "batch": BATCH, "lr": LR, "epochs": args.epochs, "seed": 0,
                    "train": str(train_path), "test": str(test_path)}
            solo[cfg] = spawn_one(spec)
            if solo[cfg]["status"] != "ok":
                progress(f"    {solo[cfg]['status']}: {solo[cfg].get('error', '')}")
    load_after = load_average()

    keras_versions = solo[("keras", R, CODE)].get("versions")
    if keras_versions:
        machine["versions"].update(keras_versions)
    table, summary = build_rows(torch_configs, runs, solo, R, CODE, args.epochs)
    report = {
        "command": [Path(sys.executable).name, *sys.argv],
        "data": {"source": source, "train_shape": list(X.shape), "test_shape": list(X_test.shape),
                 "dtype": str(X.dtype)},
        "workload": {"layers": [X.shape[1], *HIDDEN, CODE, *HIDDEN[::-1], X.shape[1]],
                     "activation": "elu", "code": "linear", "output": "sigmoid", "loss": "mse",
                     "optimizer": "adam", "learning_rate": LR, "batch_size": BATCH,
                     "epochs": args.epochs, "repeats": args.repeats},
        "machine": machine,
        "load_average": {"before": load_before, "after": load_after},
        "reliable": warning is None,
        "warnings": [warning] if warning else [],
        "rows": table,
        "summary": summary,
        "seconds_total": time.perf_counter() - t_start,
    }
    print_report(report)
    if warning:
        print(banner(warning), flush=True)

    from aekit.core.storage import atomic_write

    atomic_write(args.json, json.dumps(report, indent=2, default=str) + "\n")
    print(f"results written to {args.json}")
    return report


def build_rows(torch_configs, runs, solo, R, code0, epochs) -> tuple[list[dict], dict]:
    """One dict per table row: in-process medians for torch, own-process numbers otherwise."""
    med = {cfg: statistics.median(r["seconds_per_epoch"]) for cfg, r in runs.items()}
    plain, aekit = med[("plain", R, code0)], med[("aekit", R, code0)]
    rows = []

    def add(kind, n, code, note, what=None, rel=True):
        cfg = (kind, n, code)
        own = solo.get(cfg, {})
        row = {"what": what or label(kind, n, code, R, code0), "kind": kind, "rows": n,
               "code": code, "status": own.get("status", "ok"), "note": note,
               "own_process": own}
        if cfg in runs:
            row.update(seconds_per_epoch=med[cfg],
                       train_loss=statistics.mean(runs[cfg]["train_loss"]),
                       test_mse=statistics.mean(runs[cfg]["test_mse"]),
                       in_process=runs[cfg])
        elif own.get("status") == "ok":
            row.update(seconds_per_epoch=own.get("seconds_per_epoch"),
                       train_loss=own.get("train_loss"), test_mse=own.get("test_mse"))
        if rel and row.get("seconds_per_epoch") is not None:
            row["relative_to_plain"] = row["seconds_per_epoch"] / plain
        row["peak_rss_mb"] = own.get("peak_rss_mb")
        rows.append(row)

    add("plain", R, code0, "reference; alternated with aekit in one process")
    add("aekit", R, code0, "median of runs alternated with the plain loop")
    keras = solo.get(("keras", R, code0), {})
    note = "same network; Glorot init, Adam eps 1e-7"
    if keras.get("status") == "ok":
        note += f"; XLA {keras.get('jit_compile')}"
        if len(keras.get("epoch_seconds", [])) > 1:
            first, *later = keras["epoch_seconds"]
            note += f"; epoch 1 {first:.2f} s, later {statistics.median(later):.2f} s"
    add("keras", R, code0, note)
    add("sklearn", R, code0, "relu everywhere (its only comparable option: the code is "
                             "relu too), identity output, alpha 0, float32")
    fit_s = solo.get(("pca", R, code0), {}).get("fit_seconds")
    add("pca", R, code0, "baseline for test MSE" + (
        f"; fit {fit_s:.2f} s, not per epoch" if fit_s is not None else ""), rel=False)

    per_10k = {}
    for n in sorted({n for kind, n, code in torch_configs if kind == "aekit"}):
        per_10k[n] = med[("aekit", n, code0)] / (n / 1e4)
        add("aekit", n, code0, f"{per_10k[n]:.3f} s per 10k rows", what=f"aekit, {n:,} rows",
            rel=False)
    code_ratio = {}
    for k in sorted({code for kind, n, code in torch_configs if kind == "aekit" and n == R}):
        code_ratio[k] = med[("aekit", R, k)] / aekit
        add("aekit", R, k, f"x{code_ratio[k]:.2f} the time of code {code0}",
            what=f"aekit, code {k}", rel=False)

    summary = {"aekit_over_plain": aekit / plain, "seconds_per_10k_rows": per_10k,
               "rows_linear_spread": max(per_10k.values()) / min(per_10k.values()),
               "code_size_ratio": code_ratio, "epochs": epochs,
               "test_mse": {r["kind"]: r.get("test_mse") for r in rows[:5]}}
    return rows, summary


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_report(report: dict) -> None:
    m, d, w, s = report["machine"], report["data"], report["workload"], report["summary"]
    la = report["load_average"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    print(f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
          f"{m['memory_gb']} GB; torch threads {m['torch_threads']}; {m['os']}")
    print(f"versions: python {m['python']}, {versions}")
    print(f"load average (1 min): before {fmt(la['before'], '.2f')}, "
          f"after {fmt(la['after'], '.2f')}")
    print(f"data: {d['source']}, train {d['train_shape'][0]:,} x {d['train_shape'][1]}, "
          f"test {d['test_shape'][0]:,}; {'-'.join(map(str, w['layers']))}, ELU, linear code, "
          f"sigmoid output, MSE, Adam {w['learning_rate']:g}, batch {w['batch_size']}, "
          f"{d['dtype']}, {w['epochs']} epoch(s), {w['repeats']} repeat(s)")
    print()
    header = ("what", "s/epoch", "vs plain", "peak RSS MB", "loss train / test", "note")
    lines = []
    for r in report["rows"]:
        if r["status"] != "ok" and r.get("seconds_per_epoch") is None:
            err = r["own_process"].get("error", "")
            note = r["status"] + (f": {err}" if r["status"] == "failed" else "")
            lines.append((r["what"], "-", "-", "-", "-", note))
            continue
        loss = f"{fmt(r.get('train_loss'), '.5f')} / {fmt(r.get('test_mse'), '.5f')}"
        lines.append((r["what"], fmt(r.get("seconds_per_epoch"), ".3f"),
                      fmt(r.get("relative_to_plain"), ".2f"), fmt(r["peak_rss_mb"], ".0f"),
                      loss, r["note"]))
    widths = [max(len(str(x[i])) for x in (header, *lines)) for i in range(len(header) - 1)]
    sections = {5: "-- time per epoch as rows grow (aekit) --",
                5 + len(s["seconds_per_10k_rows"]): "-- time per epoch as the code grows "
                                                    "(aekit) --"}

    def out(cells):
        left = [str(cells[0]).ljust(widths[0])]
        left += [str(c).rjust(wd) for c, wd in zip(cells[1:-1], widths[1:], strict=True)]
        print("  ".join(left + [str(cells[-1])]).rstrip())

    out(header)
    print("  ".join("-" * wd for wd in widths) + "  " + "-" * 4)
    for i, cells in enumerate(lines):
        if i in sections:
            print(sections[i])
        out(cells)
    print()
    print("s/epoch: seconds per epoch, fit set-up included (plain, aekit and the aekit rows: "
          "medians of runs alternated in one process; Keras and MLPRegressor: one run in their "
          "own process). vs plain: s/epoch over the plain loop's. Peak RSS: a fresh process "
          "per row running only that fit (interpreter, library and data included). "
          "Loss: train = mean MSE of the last epoch, test = MSE on the held-out rows.")
    print()
    print(f"aekit / plain loop = {s['aekit_over_plain']:.3f}")
    per = ", ".join(f"{n:,} rows {v:.3f}" for n, v in s["seconds_per_10k_rows"].items())
    verdict = "linear" if s["rows_linear_spread"] <= 1.15 else "NOT linear"
    print(f"s per 10k rows: {per} -> {verdict} (max/min {s['rows_linear_spread']:.2f})")
    t = s["test_mse"]
    if t.get("pca") is not None:
        for kind, name in (("aekit", "aekit"), ("keras", "Keras"), ("sklearn", "MLPRegressor")):
            if t.get(kind) is not None:
                cmp = "worse than" if t[kind] > t["pca"] else "better than"
                print(f"{name} test MSE after {s['epochs']} epoch(s): {t[kind]:.5f}, {cmp} "
                      f"PCA's {t['pca']:.5f}")
    print(f"total {report['seconds_total']:.0f} s")


if __name__ == "__main__":
    main()
