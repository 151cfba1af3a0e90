"""How the command line's options derive from the estimators: each constructor parameter
becomes one option, its name and type from the parameter's constraint
(``_parameter_constraints``), its choices from the same constraint, its default from the
constructor and its help from the first sentence of the parameter's docstring, so the two
cannot drift. :func:`estimator_options` decorates a command of :mod:`aekit.cli.commands`.
Options that commands share beyond the estimators' are defined here once (:data:`Overwrite`).
"""

from __future__ import annotations

import functools
import inspect
import numbers
import re
import shlex
from typing import Annotated, Literal

import typer

from ..core.checks import Interval, LayerTriples, NumberTuple, SizeTuple, StrOptions
from ..estimators import AutoEncoder


# Option names that differ from the parameter's (--n-components would be long-winded).
_FLAGS = {
    "n_components": ("--components",),
    "hidden_layer_sizes": ("--hidden",),
    "max_epochs": ("--epochs", "--max-epochs"),
    "random_state": ("--seed",),
    "verbose": ("--verbose", "-v"),
}
# Help where the docstring's first sentence speaks of Python (None, "see there") or of what
# the command does differently (it checkpoints into --out); for AutoEncoder's defaults.
_CLI_HELP = {
    "learning_rate": "Step size of the optimizer; default: the optimizer's own (1e-3 for "
                     "adam, adamw and sgd, 1e-2 for rmsprop, 1.0 for adadelta)",
    "checkpoint_dir": "Folder of the checkpoint written after every epoch; default: the run "
                      "directory (--out)",
    "noise_level": "Strength of --noise: the noise's standard deviation relative to the "
                   "data's range (gaussian), or the fraction of values set (masking, "
                   "salt_pepper)",
}

Overwrite = Annotated[bool, typer.Option(
    "--overwrite", help="Replace an existing --out file that aekit did not write (never an "
    "input or a file of RUN).")]
"""The option of every command writing one file named by ``--out``: without it an existing
file is replaced only when aekit wrote it (:func:`aekit.runs.check_out_file`)."""

_RST = re.compile(r":[a-z]+:`~?([^`]+)`|``([^`]+)``")


def _param_docs(cls) -> dict[str, str]:
    """The first sentence of each parameter's description in ``cls``'s numpydoc docstring.

    An entry that says "As for :class:`AutoEncoder`", or nothing, takes the AutoEncoder's.
    """
    doc = inspect.getdoc(cls) or ""
    section = re.search(r"^Parameters\n-+\n(.*?)(?:^\S[^\n]*\n-+\n|\Z)", doc, flags=re.S | re.M)
    docs: dict[str, str] = {}
    names: list[str] = []
    for line in (section.group(1) if section else "").splitlines():
        if line and not line[0].isspace():  # "name : type" or "a, b, c"
            names = [n.strip() for n in line.split(":")[0].rstrip("\\").split(",") if n.strip()]
            for n in names:
                docs[n] = ""
        elif line.strip():
            for n in names:
                docs[n] = (docs[n] + " " + line.strip()).strip()
    inherited = _param_docs(AutoEncoder) if cls is not AutoEncoder else {}
    out = {}
    for name, text in docs.items():
        if (not text or text.startswith("As for")) and name in inherited:
            text = inherited[name]
        text = _RST.sub(lambda m: m.group(1) or m.group(2), text)
        # A sentence ends at ". " or "; ", not after "e.g." or "et al.".
        sentences = re.split(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bal\.)(?<=[.;])\s", text,
                             maxsplit=2)
        # A terse first sentence ("Dense only.") takes the next one with it.
        short = len(sentences) > 1 and len(sentences[0]) < 25
        out[name] = " ".join(sentences[:2] if short else sentences[:1]).rstrip(".;")
    return out


def _parse_sizes(text: str, option: str, *, auto: bool,
                 nullable: bool = False) -> tuple[int, ...] | str | None:
    """``"512,128"`` -> ``(512, 128)``; ``""`` or ``"none"`` -> ``()`` (no layers), or None
    where the parameter takes None (``image_shape``: none given); ``"auto"`` stays. The
    Python spelling the help texts show, ``"(28, 28)"`` or ``"[512, 128]"``, is read alike."""
    text = text.strip()
    if len(text) > 1 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        text = text[1:-1].strip().rstrip(",")  # "(64,)" is one layer, as in Python
    if text.lower() in ("", "none", "()"):
        return None if nullable else ()
    if auto and text.lower() == "auto":
        return "auto"
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of integers such as 512,128"
            + (" (or auto, or '' / none for none)" if auto else ""),
            param_hint=f"'{option}'",
        ) from None


def _parse_numbers(text: str, option: str) -> tuple[float, ...] | str:
    """``"1000,10,0.1"`` -> ``(1000.0, 10.0, 0.1)``; ``"auto"`` stays."""
    text = text.strip()
    if text.lower() == "auto":
        return "auto"
    try:
        return tuple(float(s) for s in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of numbers such "
                                 "as 1000,10,0.1 (or auto)", param_hint=f"'{option}'") from None


def _parse_layers(text: str, option: str) -> tuple[tuple[int, ...], ...] | None:
    """``"32:5:2,64:3:1"`` -> ``((32, 5, 2), (64, 3, 1))``; ``"none"`` or ``""`` -> None."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    try:
        return tuple(tuple(int(v) for v in layer.split(":")) for layer in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of "
                                 "filters:kernel:pool layers such as 32:5:2,64:3:1 (or none)",
                                 param_hint=f"'{option}'") from None


_LIST_OPTIONS = {
    LayerTriples: (_parse_layers, "<layers>", "32:5:2,64:3:1"),
    NumberTuple: (_parse_numbers, "<numbers>", "1000,10,0.1,0.1,0.1"),
}
"""Each list constraint's parser of the option's text, its metavar and an example."""


def _word_or_number(text: str, words, option: str):
    """``"auto"`` (one of ``words``) stays a word; anything else must be a number."""
    if text in words:
        return text
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither a number nor one of {sorted(words)}",
                                 param_hint=f"'{option}'") from None


_PYTHON_ONLY = {
    "encoder": "a torch.nn.Module: Python code, not a command-line value",
    "decoder": "a torch.nn.Module: Python code, not a command-line value",
    "warm_start": "each run fits a new model; continue one in Python",
    "autoencoder": "the classifier's own options build it (--components, --autoencoder)",
    "callbacks": "Callback objects: Python code, not a command-line value",
}
"""Estimator parameters the command line does not offer, and why."""

_LONG_CHOICES = 30
"""Choices whose list is longer than this many characters are named in the help text, with
a short metavar, so every help line fits 80 columns."""


def _option(name: str, constraints: list, default, help_text: str, panel: str):
    """``(annotation, default, to_value)`` of the typer option for one parameter."""
    flags = _FLAGS.get(name, (f"--{name.replace('_', '-')}",))
    nullable = None in constraints
    kinds = [c for c in constraints if c is not None and c != "callable"]
    to_value = None
    info = dict(help=help_text, rich_help_panel=panel)
    listed = next((type(c) for c in kinds if type(c) in _LIST_OPTIONS), None)
    if listed is not None:
        parse, info["metavar"], example = _LIST_OPTIONS[listed]
        info["help"] = f"{help_text} (e.g. {example})"
        kind, default = str, "none" if default is None else default
        to_value = functools.partial(parse, option=flags[0])
    elif "boolean" in kinds:
        flag = flags[0].removeprefix("--")
        kind, flags = bool, (f"--{flag}/--no-{flag}",)
    elif "verbose" in kinds:
        kind, info["count"] = int, True
    elif "random_state" in kinds:
        kind = int | None
    elif any(isinstance(c, SizeTuple) for c in kinds):
        auto = any(isinstance(c, StrOptions) and "auto" in c.options for c in kinds)
        kind, default = (str | None if nullable else str), (
            None if default is None else default if isinstance(default, str)
            else ",".join(map(str, default)))
        to_value = functools.partial(_parse_sizes, option=flags[0], auto=auto,
                                     nullable=nullable)
    elif any(isinstance(c, StrOptions) for c in kinds) and any(
            isinstance(c, Interval) for c in kinds):  # a word or a number: contamination
        words = next(c for c in kinds if isinstance(c, StrOptions)).options
        kind, default = str, str(default)
        to_value = functools.partial(_word_or_number, words=words, option=flags[0])
    elif any(isinstance(c, StrOptions) for c in kinds):
        choices = sorted(next(c for c in kinds if isinstance(c, StrOptions)).options)
        choices += ["none"] if nullable else []
        if len("|".join(choices)) > _LONG_CHOICES:  # listed in the help, not the metavar
            kind, info["metavar"] = str, "<name>"
            info["help"] = f"{help_text}. One of: {', '.join(choices)}"
        else:
            kind = Literal[tuple(choices)]
        default = "none" if default is None else default
        to_value = (lambda v: None if v == "none" else v) if nullable else None
    elif any(isinstance(c, Interval) for c in kinds):
        interval = next(c for c in kinds if isinstance(c, Interval))
        kind = int if issubclass(interval.type, numbers.Integral) else float
        kind = kind | None if nullable else kind
    else:  # free strings: devices, paths
        kind = str | None if nullable else str
    annotation = Annotated[kind, typer.Option(*flags, **info)]
    return annotation, default, to_value


def estimator_options(cls, panel: str):
    """Decorator: give a command one option per constructor parameter of ``cls``.

    The command receives them as ``params``, a dict ready for ``cls(**params)``.
    """
    constraints = cls._parameter_constraints
    # In the constructor's order, as the docstring lists them.
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()}
    docs = _param_docs(cls)
    ae_defaults = {name: p.default for name, p in inspect.signature(AutoEncoder).parameters.items()}
    # _CLI_HELP describes AutoEncoder's defaults (LadderClassifier's learning_rate is 0.002).
    docs.update({name: text for name, text in _CLI_HELP.items()
                 if name in defaults and defaults[name] == ae_defaults.get(name)})

    def decorate(func):
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values()
               if p.name != "params"]
        options, converters = [], {}
        for name in [n for n in defaults if n not in _PYTHON_ONLY]:
            annotation, default, to_value = _option(
                name, constraints[name], defaults[name], docs.get(name, ""), panel)
            options.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                             default=default, annotation=annotation))
            converters[name] = to_value

        @functools.wraps(func)
        def command(**kwargs):
            params = {}
            for name, to_value in converters.items():
                value = kwargs.pop(name)
                params[name] = to_value(value) if to_value is not None and value is not None \
                    else value
            return func(**kwargs, params=params)

        signature = inspect.Signature([*own, *options])
        command.__signature__ = signature
        command.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        del command.__wrapped__  # typer must see the options, not func's signature
        return command

    return decorate


# ``name=value`` in a library message: a quoted value, a bare word or number (not a full
# stop after it), or a list of quoted names (drop=[...]); not a tuple, which the command
# line spells otherwise.
_ADVICE = re.compile(r"(?<![\w.'\"])([a-z_][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[\w+-]+(?:\.[\w+-]+)*"
                     r"|\['[^']*'(?:, '[^']*')*\])")


CHOICES = {"header": {"infer": "infer", "yes": True, "no": False}}
"""Options whose choices stand for other library values: each choice and its value
(``--header yes`` is ``header=True``)."""


def cli_spelling(message: str, command) -> str:
    """``message`` (a library error or warning) with its ``name=value`` advice spelled as
    ``command`` (a click command) takes it: ``missing='impute'`` becomes ``--missing
    impute``, ``early_stopping=False`` ``--no-early-stopping``, ``header=True`` ``--header
    yes`` (:data:`CHOICES`). Only the command's own options are rewritten, and not inside a
    Python call (``AutoEncoder(missing='impute')``, ``read_csv(..., decimal=',')``), which
    stays Python; ``None`` stays as written. A list of names is the comma-separated list
    the option takes (``drop=['a', 'b']`` is ``--drop a,b``), and a value a shell would
    split is quoted (``drop='Unnamed: 0'`` is ``--drop 'Unnamed: 0'``)."""
    options = {p.name: p for p in getattr(command, "params", ())
               if p.param_type_name == "option" and p.opts[0].startswith("--")}
    if not options:
        return message

    def spelt(match: re.Match) -> str:
        option = options.get(match[1])
        value = match[2].strip("'\"") if match[2][0] in "'\"" else match[2]
        if match[2][0] == "[":  # names, as --drop takes them: one word, commas between
            value = ",".join(re.findall(r"'([^']*)'", match[2]))
        if option is None or value == "None" or _in_call(message, match.start()):
            return match[0]
        if option.is_flag and value in ("True", "False"):
            if value == "True":
                return option.opts[0]
            return option.secondary_opts[0] if option.secondary_opts else match[0]
        choices = CHOICES.get(match[1], {})
        value = next((c for c, v in choices.items() if str(v) == value), value)
        # Quoted as a shell needs it: --drop 'Unnamed: 0' is one column, not two words.
        return f"{option.opts[0]} {shlex.quote(value)}"

    return _ADVICE.sub(spelt, message)


def _in_call(text: str, position: int) -> bool:
    """Whether ``position`` of ``text`` is inside the brackets of a call (``name(...)``)."""
    depth = 0
    for i in range(position - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth == 0:
                return i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.")
            depth -= 1
    return False
