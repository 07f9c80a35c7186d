"""The `ring` command line: one root app over the command modules in ``ring_serve/commands/``.

Each command imports its package inside its body, so `ring --help` stays fast.
"""
from __future__ import annotations

import typer

from ring_serve.commands import dashboard, datasets, db, demo, eval, model, reward, serve, train

app = typer.Typer(help="Ring Lab: serve, evaluate and RL-train Ring-lite (BailingMoE) models.",
                  no_args_is_help=True, add_completion=False)
for single in (serve, demo, eval, dashboard):  # one command each, at the top level
    app.registered_commands.extend(single.app.registered_commands)
app.add_typer(model.app, name="model")
app.add_typer(db.app, name="db")
app.add_typer(datasets.app, name="datasets")
app.add_typer(train.app, name="train")
app.add_typer(reward.app, name="reward")

if __name__ == "__main__":
    app()
