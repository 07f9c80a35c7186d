"""The `ring` command line: one root app over the command modules in ``ring_serve/commands/``.

Each command imports its package inside its body, so `ring --help` stays fast.
"""
from __future__ import annotations

import sys

import typer

from ring_serve.commands import dashboard, datasets, db, demo, eval, model, reward, serve, spn, train

app = typer.Typer(help="Ring Lab: serve, evaluate and RL-train Ring-lite (BailingMoE) models.",
                  no_args_is_help=True, add_completion=False)
for single in (serve, demo, eval, dashboard):  # one command each, at the top level
    app.registered_commands.extend(single.app.registered_commands)
app.add_typer(model.app, name="model")
app.add_typer(db.app, name="db")
app.add_typer(datasets.app, name="datasets")
app.add_typer(train.app, name="train")
app.add_typer(reward.app, name="reward")
app.add_typer(spn.app, name="spn")



def main() -> None:
    """The `ring` entry point: `app`, with one plain line for a package an extra provides."""
    from ring_serve.extras import missing_extra_message

    try:
        app()
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        print(f"ring: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
