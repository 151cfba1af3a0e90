"""How a command that fits and writes a run directory runs: under ``torchrun`` on every
process (joining their group, or refused when the command does not share its work), holding
the directories it writes until it ends (one writer per run directory,
:func:`aekit.runs.writing_run`), and reporting what a stopped fit kept.

Used by the training commands of :mod:`aekit.cli.commands`, :mod:`aekit.cli.classify` and
:mod:`aekit.cli.detect`; the library does the work (:mod:`aekit.core.distributed`,
:mod:`aekit.runs`).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import typer

from ..core import distributed
from ..runs import is_complete, write_run, writing_run
from ..training.callbacks import checkpoint_info
from ..training.loop import FitInterrupted, kept_record

SEVERAL_PROCESSES = ("train", "train-vae", "train-classifier", "train-ladder")
"""The commands that share their work between the processes ``torchrun`` starts."""


def check_one_process(command) -> None:
    """Refuse ``command`` under ``torchrun`` with several processes unless it shares its
    work between them: each process would do all of it and write the same files."""
    world = distributed.launched_world_size()
    if world == 1 or command is None or command.name in SEVERAL_PROCESSES:
        return
    raise ValueError(
        f"'aekit {command.name}' runs in one process, but torchrun started {world} "
        f"(WORLD_SIZE={world}): each would do all of its work and write the same files. Run "
        f"it without torchrun; only {', '.join(SEVERAL_PROCESSES)} share their work "
        "between processes")


@contextlib.contextmanager
def ranks_writing(command: str, device: str, dist_timeout: float | None,
                   *directories: tuple[str, object]) -> Iterator[None]:
    """Run ``command``, which fits and writes ``directories`` (``(option, path)`` pairs), under
    torchrun on every process: join the process group (:func:`distributed.init_from_env`),
    hold the directories (:func:`writing`), leave the group at the end."""
    distributed.init_from_env(device, dist_timeout)  # under torchrun: one of several
    try:
        with writing(command, *directories):
            yield
    except BaseException:
        distributed.teardown(wait=False)  # a peer may never come to the barrier
        raise
    distributed.teardown()


@contextlib.contextmanager
def writing(command: str, *directories: tuple[str, object]) -> Iterator[None]:
    """Hold the directories ``command`` (``"train"``) writes, ``(option, path)`` pairs (a
    None path: none), until it ends (:func:`aekit.runs.writing_run`): another aekit process
    writing one of them refuses the command now, before any work.

    Under torchrun only rank 0, the one that writes, holds them (the ranks of one run share
    its --out), and every rank learns whether it could: a refused run ends on every rank at
    once, the others quietly (rank 0 says why), instead of after the group's timeout.
    """
    with contextlib.ExitStack() as stack:
        refused = None
        if distributed.is_main():
            held = set()
            try:
                for option, path in directories:
                    if path is not None and Path(path).resolve() not in held:
                        held.add(Path(path).resolve())
                        stack.enter_context(writing_run(path, option=option,
                                                        command=f"aekit {command}"))
            except (ValueError, OSError) as err:
                refused = err
        if distributed.flag_of_rank_0(refused is not None):
            raise refused if refused is not None else typer.Exit(2)
        yield


def interrupted(err: FitInterrupted, out: Path, checkpoint_dir) -> int:
    """Write what a stopped fit kept, say where, and return the exit code (128 + signal)."""
    code = 128 + int(err.signum)
    if not distributed.is_main():
        return code
    name = signal.Signals(err.signum).name
    partial = err.estimator
    if partial is not None and is_complete(out):
        # A finished run is replaced by a finished run only: the checkpoint holds this one.
        typer.echo(f"\n{name}: stopped; {out}/ keeps the finished run it held (model and "
                   "metrics): an interrupted run never replaces one", err=True)
    elif partial is not None:
        write_run(out, partial, None)
        kept = kept_record(partial.history_)["epoch"]
        typer.echo(f"\n{name}: stopped; the model kept so far (epoch {kept}) is saved "
                   f"in {out}/ (config.json)", err=True)
    else:
        typer.echo(f"\n{name}: stopped before the first epoch ended; no model to save", err=True)
    info = checkpoint_info(checkpoint_dir) or {}
    loop = info.get("loop") if isinstance(info.get("loop"), dict) else {}
    if loop:
        typer.echo(f"checkpoint of epoch {loop.get('epoch')} (restart "
                   f"{int(info.get('restart', 0)) + 1}) in {checkpoint_dir}/checkpoint.json; "
                   "continue with the same command and --resume", err=True)
    return code
