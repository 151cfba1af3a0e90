"""Files written atomically and durably, and the on-disk container of a saved model.

A reader sees the old file or the complete new one, never half of one, and a file that was
replaced survives a power cut: it is flushed (``fsync``) before it is renamed into place,
and the directory is flushed after. Temporary files are hidden (``.name.XXXX.tmp``) and
removed on error.

A saved model (and a training checkpoint) is a *container*: a directory holding a manifest
(``config.json``) that names a content-addressed weights file (``model-<sha256>.safetensors``)
and holds everything else as JSON. The manifest is written last, by one atomic rename, so a
save that is killed at any moment leaves the old model or the new one, never a mix; the
weights file the replaced manifest named is removed afterwards, and so are the temporary
files of an earlier save that was killed. Only files aekit can show it wrote are removed:
the one the old manifest names, and a ``<stem>-<hash>.safetensors`` left by a killed save
whose content hashes to its name; any other file in the directory (a Hugging Face
``model.safetensors``, say) is never touched. The manifest carries a SHA-256 of the weights and one
of its own content (``sha256``), so a damaged or edited file is refused on load. This module
knows the container, not the estimators: :mod:`aekit.persistence` decides which classes a
config may name and which fields it may set.

Two locks, both POSIX ``flock``: :func:`locked_dir` on a directory makes its saves take
turns; :func:`held_lock` on a file of its own refuses a second writer at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import safetensors.torch
import sklearn
import torch

from .version import __version__

try:  # POSIX: saves into one directory are serialised by a lock on the directory itself
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
"""The weights file of format 1 (still read); format 2 names ``model-<hash>.safetensors``."""
FORMAT = "aekit-model"
FORMAT_VERSION = 2
_HASH_CHARS = 16  # of the SHA-256 in a weights file's name: unique among a directory's files
LOCATION_PARAMS = ("checkpoint_dir", "log_dir")
READ_ATTEMPTS = 12
"""Reads of a container whose weights a save in another process replaced under the reader
(each retry waits 1, 2, 4, ... ms, at most 50: about 0.3 s in all) before a missing weights
file is an error."""
"""Parameters that name where a fit writes files. Where files go is the caller's choice at
fit time, never a saved file's: ``save`` writes them as null and ``load`` sets them to
None, so refitting a loaded model writes nowhere the caller did not name."""


# --------------------------------------------------------------------------- atomic files
def fsync_dir(path: str | os.PathLike) -> None:
    """Flush directory ``path`` (a rename or unlink in it) to disk; a no-op where the OS
    cannot open directories (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary file is flushed to disk before the rename and the directory after it, so
    ``path`` holds the old content or the complete new one even after a power cut. On an
    exception the temporary file is removed and ``path`` is left untouched. An error of the
    temporary file (one that cannot be created, written or renamed) names ``path``: the
    temporary name means nothing to the caller.

    As a plain ``open(path, "w")`` would, a symbolic link is written through: its target is
    replaced (the temporary file lies beside the target) and the link stays; an existing
    file keeps its permission bits, and a new one gets those of the umask.
    """
    path = Path(path)
    # realpath: the link's target even when it does not exist yet (open() creates it).
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, err.strerror, os.fspath(path)) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))  # mkstemp's 0600 is no one's choice
        _fsync_file(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as err:
        if str(tmp) not in (_name(err.filename), _name(err.filename2)):
            raise
        raise OSError(err.errno, err.strerror, os.fspath(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _mode_for(path: Path) -> int:
    """The permission bits a file written to ``path`` gets: the existing file's, else those
    a plain ``open()`` gives a new file (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777  # never set-id bits
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it
        os.umask(umask)
        return 0o666 & ~umask


def _name(filename) -> str | None:
    """An OSError's ``filename`` as a str (it may be bytes or a path-like), or None."""
    if isinstance(filename, bytes):
        return os.fsdecode(filename)
    return os.fspath(filename) if isinstance(filename, (str, os.PathLike)) else None


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return Path(path)


_TEMP_RANDOM = r"[a-z0-9_]{8}"
"""What ``tempfile.mkstemp`` puts between :func:`atomic_path`'s prefix and suffix (CPython's
random names: 8 of a-z, 0-9 and _)."""


def _temp_pattern(name: str) -> str:
    """The names :func:`atomic_path` gives the temporary files of target names matching the
    regular expression ``name``: ``.<name>.<8 random characters>.tmp``, nothing looser."""
    return rf"\.(?:{name})\.{_TEMP_RANDOM}\.tmp"


def remove_stale_temps(directory: str | os.PathLike, names=(), patterns=()) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left for ``names`` in ``directory``
    (a process killed while writing them); returns what was removed.

    ``names`` are file names; ``patterns`` regular expressions of file names (the
    content-addressed weights). Only the exact names :func:`atomic_path` gives its
    temporary files match: a user's ``.model-draft.tmp`` or ``.config.json.orig.tmp`` is
    not aekit's and stays. Call it only where no other process is writing the same files
    (e.g. under :func:`locked_dir`).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    targets = [re.escape(n) for n in names] + list(patterns)
    if not targets:
        return []
    temp = re.compile(_temp_pattern("|".join(f"(?:{t})" for t in targets)))
    removed = []
    for p in directory.iterdir():
        if temp.fullmatch(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def locked_dir(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on directory ``path`` (POSIX ``flock``; released when the
    process dies): two saves into one directory take turns instead of mixing files."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class LockHeld(OSError):
    """The lock file of :func:`held_lock` is held by another process; ``holder`` is what that
    process wrote into it (who it is), empty when it has not written it yet."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is locked by another process ({holder or 'unknown'})")
        self.path, self.holder = path, holder


LOCK_MARK = "aekit-lock"
"""The first word of every lock file :func:`held_lock` writes: how it knows the file is its."""


@contextlib.contextmanager
def held_lock(directory: str | os.PathLike, name: str, note: str) -> Iterator[Path | None]:
    """Hold an exclusive lock on the file ``name`` in ``directory`` while the context lasts,
    or fail at once with :class:`LockHeld` when another process holds it.

    POSIX ``flock``, taken without waiting: the operating system releases it when the
    process ends, however it ends (``kill -9`` leaves the file behind, never the lock, and
    the next caller takes it over). The holder writes ``LOCK_MARK note`` into the file (who
    holds it, for the message of a refused caller) and removes the file on release. It is
    a file of its own, not the directory: :func:`locked_dir`, which saves take inside, locks
    the directory, and two ``flock`` calls on one file conflict even within one process.
    ``directory`` is created when missing, and removed again on release (with the parents
    this call created) when nothing else was written into it. A file of that name which
    holds anything but an aekit lock, or is no regular file, is refused (ValueError), never
    overwritten. Where ``flock`` does not exist (Windows) nothing is locked or created and
    None is yielded; otherwise the lock file's path.
    """
    if fcntl is None:  # pragma: no cover
        yield None
        return
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a directory; pass a directory path")
    created = _make_dirs(directory)
    path = directory / name
    try:
        fd = _lock(path, created)
        try:
            _claim(fd, path, note)
        except BaseException:
            os.close(fd)  # not ours: left as it is
            raise
        try:
            yield path
        finally:
            # Removed while still held: a process that opened the old file finds it gone
            # once it gets the lock (see _lock) and takes a new one.
            if _same_file(fd, path):
                path.unlink(missing_ok=True)
            os.close(fd)  # releases the lock
    finally:
        for p in created:  # innermost first; stops at the first one not empty
            try:
                p.rmdir()
            except OSError:
                break


def _make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones this call created, innermost
    first (one another process creates meanwhile is not listed: not ours to remove)."""
    created = []
    for p in reversed((directory, *directory.parents)):
        try:
            p.mkdir()
        except FileExistsError:
            continue
        created.insert(0, p)
    return created


def _lock(path: Path, created: list[Path]) -> int:
    """A descriptor of the file ``path`` (created when missing) holding its ``flock``, taken
    without waiting; :class:`LockHeld` when another process holds it. Directories it creates
    anew are added to ``created`` (innermost first), for the caller to remove."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | nofollow, 0o666)
        except FileNotFoundError:  # a holder removed the directory it created: take it anew
            # ... and it is ours now: removed on release when left empty, as the first was.
            again = [p for p in _make_dirs(path.parent) if p not in created]
            created[:] = sorted([*created, *again], key=lambda p: len(p.parts), reverse=True)
            continue
        except OSError as err:
            if path.is_symlink():
                raise ValueError(f"{path} is a symbolic link, not an aekit lock file; remove "
                                 "it") from None
            raise OSError(err.errno, err.strerror, os.fspath(path)) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError(f"{path} is not a regular file (a FIFO, device or socket?), "
                                 "so not an aekit lock file; remove it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not _same_file(fd, path):
                    os.close(fd)  # its holder was releasing it: try the file there now
                    continue
                raise LockHeld(path, os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                               .removeprefix(LOCK_MARK).strip()) from None
            if _same_file(fd, path):
                return fd
            os.close(fd)  # locked a file its holder has removed since: lock the new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


def _claim(fd: int, path: Path, note: str) -> None:
    """Write ``LOCK_MARK note`` into the locked file ``fd``, unless it holds something else:
    a file aekit did not write is refused (ValueError), never overwritten."""
    held = os.pread(fd, len(LOCK_MARK), 0)
    if held and held != LOCK_MARK.encode():
        raise ValueError(f"{path} is not an aekit lock file: aekit does not overwrite files it "
                         "did not write; remove it (or use another directory)")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{LOCK_MARK} {note}\n".encode(), 0)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        there = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    here = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def open_regular(path: str | os.PathLike):
    """Open ``path`` for binary reading when it is a regular file (a symlink to one is
    fine); a FIFO, a device or a socket is a ValueError, raised at once: opened without
    blocking, so a FIFO with no writer never hangs the reader."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file (a FIFO, device or socket?); "
                             "aekit reads its model files from regular files only")
        if fcntl is not None:  # blocking reads from here on
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`)."""
    with open_regular(path) as f:
        return f.read()


# --------------------------------------------------------------------------- JSON
def jsonable(value):
    """``value`` as plain JSON types: NumPy scalars and arrays, tuples, devices, and nested
    estimators (``{"__estimator__": class name, "params": ...}``, parameters only).

    Anything else (e.g. a RandomState instance as random_state, which JSON cannot
    reproduce anyway) becomes None.
    """
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(getattr(value, "to_config", None)):  # e.g. a fitted input schema
        return jsonable(value.to_config())
    if callable(getattr(value, "get_params", None)):
        return {"__estimator__": type(value).__name__,
                "params": jsonable(value.get_params(deep=False))}
    return None


def config_checksum(config: dict) -> str:
    """SHA-256 of ``config`` without its ``sha256`` field, over a canonical JSON text (sorted
    keys, no spaces): the same for the dict written and the dict read back."""
    body = {k: v for k, v in config.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parse_json(path: Path) -> object:
    try:
        return json.loads(read_regular(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the file is damaged") from None
    except RecursionError:
        raise ValueError(f"{path} nests its JSON too deeply; the file is damaged") from None


# --------------------------------------------------------------------------- containers
def write_container(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict,
                    *, manifest: str = CONFIG, stem: str = "model") -> Path:
    """Write ``tensors`` and ``config`` into directory ``path`` so that a kill at any moment
    leaves the previous container or the new one.

    Steps: the weights go to ``<stem>-<sha256>.safetensors`` (a new name, flushed); then
    the manifest ``manifest`` (``config`` plus ``weights``, ``weights_sha256`` and its own
    ``sha256``) replaces the old one by one atomic rename; then weights files the manifest
    no longer names, and temporary files of killed saves, are removed. Saves into one
    directory take turns (:func:`locked_dir`).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory; pass a directory path")
    path.mkdir(parents=True, exist_ok=True)
    blob = safetensors.torch.save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    digest = hashlib.sha256(blob).hexdigest()
    weights = f"{stem}-{digest[:_HASH_CHARS]}.safetensors"
    config = {**config, "weights": weights, "weights_sha256": digest}
    # Hash what the reader will parse: the JSON text, read back.
    config = json.loads(json.dumps(config, allow_nan=True))
    config["sha256"] = config_checksum(config)
    text = json.dumps(config, indent=2, allow_nan=True) + "\n"
    with locked_dir(path):
        if (path / manifest).exists() and _manifest_kind(path / manifest,
                                                         config.get("format")) is None:
            raise ValueError(
                f"{path / manifest} exists and is not an aekit {_noun(config)} file: aekit "
                "does not overwrite files it did not write; save into another directory "
                "(or remove that file)")
        remove_stale_temps(path, [manifest], [_weights_pattern(stem)])
        previous = _named_weights(path, manifest, stem, kind=config.get("format"))
        atomic_write(path / weights, blob)
        atomic_write(path / manifest, text)  # the commit point
        _remove_unnamed(path, stem, keep=weights, named=previous)
    return path


def _noun(config: dict) -> str:
    tag = config.get("format")
    return tag.split("-")[-1] if isinstance(tag, str) else "container"


def _manifest_kind(where: Path, kind: str | None) -> dict | None:
    """The parsed manifest ``where`` when it is an aekit manifest of ``kind`` (None: of any
    aekit format), else None; never raises (a damaged or foreign file is no manifest)."""
    try:
        config = _parse_json(where) if where.is_file() else None
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or not isinstance(config.get("format"), str):
        return None
    tag = config["format"]
    return config if (tag == kind if kind is not None else tag.startswith("aekit-")) else None


def is_manifest(where: str | os.PathLike, kind: str | None = None) -> bool:
    """Whether the file ``where`` is an aekit manifest of ``kind`` (its ``format`` tag; None:
    any aekit format), so a file aekit wrote; never raises."""
    return _manifest_kind(Path(where), kind) is not None


def _named_weights(path: Path, manifest: str, stem: str, kind: str | None) -> str | None:
    """The weights file the manifest now in ``path`` names, when it is an aekit manifest of
    ``kind`` (format 1: ``model.safetensors``); else None. Never raises: a damaged
    manifest names nothing."""
    config = _manifest_kind(path / manifest, kind)
    if config is None:
        return None
    version = config.get("format_version")
    if version == 1 and stem == "model":
        return WEIGHTS
    weights = config.get("weights")
    return (weights if isinstance(weights, str) and re.fullmatch(_weights_pattern(stem), weights)
            else None)


def _weights_pattern(stem: str) -> str:
    """The regular expression of the weights files' names, ``<stem>-<hash>.safetensors``
    (its group: the hash)."""
    return rf"{re.escape(stem)}-([0-9a-f]{{{_HASH_CHARS}}})\.safetensors"


def _remove_unnamed(path: Path, stem: str, keep: str | None, named: str | None) -> None:
    """Remove the weights file ``named`` by the replaced manifest (unless it is ``keep``)
    and ``<stem>-<hash>.safetensors`` files other than ``keep`` whose content hashes to
    their name (left by a save killed before its manifest). Nothing else: a file aekit
    cannot show it wrote is not aekit's to delete."""
    # Not flushed: a removal undone by a power cut leaves a file the next save removes.
    if named is not None and named != keep:
        (path / named).unlink(missing_ok=True)
    pattern = re.compile(_weights_pattern(stem))
    for p in path.iterdir():
        match = pattern.fullmatch(p.name)
        if p.name != keep and match and _hashes_to(p, match.group(1)):
            p.unlink(missing_ok=True)


def _hashes_to(path: Path, prefix: str) -> bool:
    """Whether the regular file ``path`` has a SHA-256 starting with ``prefix``."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (OSError, ValueError):
        return False
    return digest.hexdigest().startswith(prefix)


def remove_container(path: str | os.PathLike, *, manifest: str, stem: str,
                     kind: str | None = None) -> bool:
    """Delete a container's manifest (first: the container is then gone at once), the
    weights it names and stale temporary files; True when there was a manifest. ``kind``:
    the ``format`` tag the manifest carries (None: any aekit format); a file named
    ``manifest`` that is no aekit manifest is left alone, and so are the files beside it."""
    path = Path(path)
    if not path.is_dir():
        return False
    with locked_dir(path):
        existed = (path / manifest).is_file()
        named = _named_weights(path, manifest, stem, kind)
        if existed and named is None and _manifest_kind(path / manifest, kind) is None:
            return False  # not aekit's
        (path / manifest).unlink(missing_ok=True)
        fsync_dir(path)
        _remove_unnamed(path, stem, keep=None, named=named)
        remove_stale_temps(path, [manifest], [_weights_pattern(stem)])
    return existed


def read_container(path: str | os.PathLike, *, manifest: str = CONFIG, stem: str = "model",
                   kind: str = FORMAT, remedy: str = "save the model again"
                   ) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(config, tensors)`` of a container, checked against both checksums.

    ``kind`` is the ``format`` tag the manifest must carry (``"aekit-model"``); ``remedy``
    ends the message of a checksum that does not match (what to do about a damaged file).

    Format 1 (``model.safetensors`` beside a manifest without its own checksum) is read too.

    Raises
    ------
    FileNotFoundError
        When the directory, the manifest or the weights file it names is missing.
    ValueError
        When a file is truncated, damaged, edited, of another kind or of a newer aekit.
    """
    path = Path(path)
    for attempt in range(READ_ATTEMPTS):
        config, weights = _read_manifest(path, manifest, stem, kind, remedy)
        try:
            blob = read_regular(path / weights)
            break
        except FileNotFoundError:
            # A save in another process may have replaced the manifest and removed the
            # weights it named between our two reads: read the new manifest. Against a
            # process that saves without pause (3 tries lost under load), each retry waits
            # a little longer, so the two fall out of step.
            if attempt == READ_ATTEMPTS - 1 or _read_manifest(path, manifest, stem, kind,
                                                              remedy)[1] == weights:
                raise FileNotFoundError(
                    f"{path / weights} (named by {manifest}) is missing; {remedy}") from None
            time.sleep(min(0.001 * 2 ** attempt, 0.05))
    if hashlib.sha256(blob).hexdigest() != config.get("weights_sha256"):
        raise ValueError(
            f"{path / weights} does not match the checksum in {manifest} (field "
            "'weights_sha256'): the file was truncated, modified or comes from another save; "
            f"{remedy}"
        )
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise ValueError(f"{path / weights} cannot be read as safetensors: {err}") from None
    return config, tensors


def _read_manifest(path: Path, manifest: str, stem: str, kind: str,
                   remedy: str) -> tuple[dict, str]:
    """The checked manifest of a container and the name of its weights file."""
    where = path / manifest
    if not where.exists():
        raise FileNotFoundError(f"{path} is not a saved aekit {kind.split('-')[-1]}: "
                                f"expected {manifest} in it")
    config = _parse_json(where)
    if not isinstance(config, dict) or config.get("format") != kind:
        shown = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{where} is not an {kind.replace('-', ' ')} file (field 'format' is "
                         f"{shown!r})")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: field 'format_version' must be a positive integer, got "
                         f"{version!r}; the file is damaged")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was saved by a newer aekit (format {version}, field "
                         "'format_version'); upgrade aekit")
    if version < 2:
        return config, WEIGHTS
    if config.get("sha256") != config_checksum(config):
        raise ValueError(
            f"{where} was modified after it was saved: its checksum (field 'sha256') "
            f"does not match its content; {remedy}"
        )
    weights = config.get("weights")
    if not isinstance(weights, str) or not re.fullmatch(_weights_pattern(stem), weights):
        raise ValueError(f"{where}: field 'weights' must name a {stem}-<hash>.safetensors "
                         f"file beside it, got {weights!r}")
    return config, weights


# --------------------------------------------------------------------------- model files
def write_model_dir(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                    config: dict) -> Path:
    """Write a model directory: a container (:func:`write_container`) whose manifest is
    ``config.json``, with the format's fields (``format``, ``format_version``,
    ``versions``) added to ``config``."""
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **config,
        "versions": {
            "aekit": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }
    return write_container(path, tensors, config, manifest=CONFIG, stem="model")


def model_checksum(path: str | os.PathLike) -> str | None:
    """The ``sha256`` of the model in ``path`` (its identity: it covers config and weights),
    or None when there is no readable format-2 model; reads config.json only."""
    try:
        config = json.loads(read_regular(Path(path) / CONFIG).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    sha = config.get("sha256") if isinstance(config, dict) else None
    return sha if isinstance(sha, str) else None


def read_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(config, tensors)`` of a model directory, checked against its checksums.

    Raises
    ------
    FileNotFoundError
        When the directory or one of its files is missing.
    ValueError
        When a file is truncated, tampered with, or not an aekit model.
    """
    path = Path(path)
    if not (path / CONFIG).exists():
        raise FileNotFoundError(
            f"{path} is not a saved aekit model: expected {CONFIG} (and the weights it names) "
            "in it"
        )
    config, tensors = read_container(path, manifest=CONFIG, stem="model", kind=FORMAT)
    for field in ("params", "fitted"):
        if not isinstance(config.get(field), dict):
            raise ValueError(f"{path / CONFIG} lacks the {field!r} section (a JSON object); "
                             "the file is damaged")
    return config, tensors
