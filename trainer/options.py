"""Command-line options declared once, on the config dataclasses' fields.

A config (``trainer.config``) marks each field a user may set from the command line with
``option(help, *flags)`` or ``argument(help)`` in its ``metadata``; ``command(cls, run)`` turns those
fields into a Typer command whose defaults are the dataclass defaults, builds ``cls`` once from
the parsed values and calls ``run(cfg)``. ``ring train sft|rl|eval`` and ``python -m
trainer.torchrun|trainer.heldout`` are all built this way, so their options cannot drift apart.

On the command line a ``tuple[str, ...]`` field is one comma-separated string (``--kinds
add,chain``); a field without a default is required unless the command ``fill``s it when left
unset (``ring train sft`` builds the tiny model when no ``--model`` is given).
"""
from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer

CLI = "cli"  # the metadata key


@dataclasses.dataclass(frozen=True)
class Cli:
    help: str
    flags: tuple[str, ...] = ()  # empty: --field-name
    positional: bool = False
    metavar: str | None = None
    panel: str | None = None  # a help panel of its own (None: "Options")


def option(help: str, *flags: str, panel: str | None = None) -> dict:
    """Field metadata: a command-line option (``--field-name`` unless ``flags`` are given)."""
    return {CLI: Cli(help, flags, panel=panel)}


def argument(help: str, metavar: str | None = None) -> dict:
    """Field metadata: a positional command-line argument."""
    return {CLI: Cli(help, positional=True, metavar=metavar)}


def cli_fields(cls) -> list[dataclasses.Field]:
    """The fields of ``cls`` exposed on the command line, in declaration order."""
    return [f for f in dataclasses.fields(cls) if CLI in f.metadata]


def extra_argument(name: str, annotation, help: str) -> inspect.Parameter:
    """A positional argument that is not a config field (passed to ``run`` by keyword)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=typer.Argument(..., help=help))


def extra_options(cls) -> list[inspect.Parameter]:
    """The CLI fields of another config ``cls`` as ``command(..., extra=...)`` parameters.

    ``run`` gets them by keyword; ``build(cls, values)`` turns them into ``cls``. This lets one
    entry add options (``ring train rl``'s Ray placement) without adding them to the shared config.
    """
    hints = typing.get_type_hints(cls)
    return [_parameter(f, hints[f.name], False) for f in cli_fields(cls)]


def command(cls, run: Callable[..., int], *, doc: str, fill: Mapping[str, Callable[[], Any]] | None = None,
            extra: Sequence[inspect.Parameter] = ()) -> Callable[..., None]:
    """A Typer command over the CLI fields of ``cls``: builds ``cls`` once, returns ``run(cfg)``'s exit code.

    ``fill``: factories for fields left unset (None). ``extra``: further parameters
    (``extra_argument``, ``extra_options``), passed on to ``run`` by keyword. A ``ValueError``
    (a bad option, or one the run raises) prints ``error: ...`` and exits with 2.
    """
    fill = dict(fill or {})
    hints = typing.get_type_hints(cls)
    # extra arguments keep their place before the config's; extra options follow its options
    extra_opts = [p for p in extra if isinstance(p.default, typer.models.OptionInfo)]
    fields = [_parameter(f, hints[f.name], f.name in fill) for f in cli_fields(cls)]
    params = [*(p for p in extra if p not in extra_opts), *fields, *extra_opts]

    def cli_command(**values) -> None:
        passed = {p.name: values.pop(p.name) for p in extra}
        try:
            code = run(build(cls, values, fill), **passed)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            code = 2
        raise typer.Exit(code)

    cli_command.__signature__ = inspect.Signature(params)
    cli_command.__doc__ = doc
    return cli_command


def build(cls, values: Mapping[str, Any], fill: Mapping[str, Callable[[], Any]] | None = None):
    """``cls`` from parsed command-line values (comma lists split into tuples, unset fields filled)."""
    fill = fill or {}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in cli_fields(cls):
        value = values[f.name]
        if value is None and f.name in fill:
            value = fill[f.name]()
        kwargs[f.name] = _from_cli(value, hints[f.name])
    return cls(**kwargs)


def _parameter(f: dataclasses.Field, hint, filled: bool) -> inspect.Parameter:
    spec: Cli = f.metadata[CLI]
    default = _cli_default(f, filled)
    if spec.positional:
        info = typer.Argument(default, help=spec.help, metavar=spec.metavar)
    else:
        info = typer.Option(default, *spec.flags, help=spec.help, rich_help_panel=spec.panel)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=_cli_type(hint, filled))


def _cli_default(f: dataclasses.Field, filled: bool):
    if f.default is dataclasses.MISSING:
        return None if filled else ...  # Ellipsis: required
    return ",".join(f.default) if isinstance(f.default, tuple) else f.default


def _optional_inner(hint):
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def _is_tuple(hint) -> bool:
    return typing.get_origin(hint) is tuple


def _cli_type(hint, filled: bool):
    inner = _optional_inner(hint)
    base = inner if inner is not None else hint
    base = str if _is_tuple(base) else base
    return typing.Optional[base] if inner is not None or filled else base


def _from_cli(value, hint):
    inner = _optional_inner(hint)
    if isinstance(value, str) and _is_tuple(inner if inner is not None else hint):
        return tuple(k.strip() for k in value.split(",") if k.strip())
    return value
