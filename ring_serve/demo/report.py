"""What the demo prints at the end: the chat replies, one before/after table with the paired sign
test, and where each stage's artefacts are. Everything is read back from the results DB."""
from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from evaluators.runner.scoring import sign_test
from ring_serve.demo import records


def make_console() -> Console:
    console = Console()
    if not console.is_terminal:  # logs and pipes: keep the tables readable
        console.width = max(console.width, 160)
    return console


@dataclass
class Paired:
    wins: int  # problems where RL's mean over k beats SFT's
    losses: int
    ties: int

    @property
    def p_value(self) -> float:
        return sign_test(self.wins, self.losses)


def paired(before: dict, after: dict) -> Paired:
    """Per held-out problem, RL's accuracy (mean over its k samples) against SFT's."""
    a, b = before["per_problem"], after["per_problem"]
    common = sorted(set(a) & set(b))
    wins = sum(b[p]["avg"] > a[p]["avg"] for p in common)
    losses = sum(b[p]["avg"] < a[p]["avg"] for p in common)
    return Paired(wins, losses, len(common) - wins - losses)


def comparison(done: dict) -> dict:
    """The numbers of the before/after table, from the two eval stages' runs in the DB."""
    out = {}
    for label, key in (("SFT", "eval-sft"), ("RL", "eval-rl")):
        runs = done[key]["runs"]
        out[label] = {"model": done[key]["model"], **{s: records.run_metrics(rid) for s, rid in runs.items()}}
    out["paired"] = paired(out["SFT"]["heldout"], out["RL"]["heldout"])
    return out


def _cell(m: dict, k: int) -> tuple[str, str]:
    lo, hi = m["ci95"]
    return f"{m[f'avg@{k}']:.3f} [{lo:.3f}, {hi:.3f}]", f"{m.get(f'pass@{k}', float('nan')):.3f}"


def before_after_table(cmp: dict, hk: int, ak: int) -> Table:
    n = cmp["SFT"]["heldout"]["problems"]
    t = Table(title="before (SFT pick) / after (C3PO RL)",
              caption="95% CI: normal approximation over problems, as on the dashboard")
    for col in ("", "model", f"held-out ({n}) avg@{hk} [95% CI]", f"pass@{hk}", f"AIME 2024 avg@{ak} [95% CI]",
                f"pass@{ak}"):
        t.add_column(col, justify="left" if col in ("", "model") else "right")
    for label in ("SFT", "RL"):
        row = cmp[label]
        t.add_row(label, row["model"], *_cell(row["heldout"], hk), *_cell(row["aime24"], ak))
    return t


def sign_test_line(p: Paired) -> str:
    return (f"paired sign test on the held-out problems (each problem's mean over its k samples): RL better on "
            f"{p.wins}, worse on {p.losses}, tied on {p.ties}; two-sided exact p = {p.p_value:.2g}")


def print_chat(console: Console, label: str, chat: dict) -> None:
    """The question, then the reasoning (inside <think>) and the answer, each on its own line."""
    from rich.text import Text

    console.print(Text.assemble((label, "bold"), "  user: ", chat["question"]))
    for part, style in (("reasoning", "dim"), ("answer", "bold")):
        text = (chat[part] or "").strip() or "(none)"
        console.print(Text.assemble("  ", (f"{part + ':':<11}", style), " ", text))


def print_report(console: Console, done: dict, hk: int, ak: int) -> dict:
    """Chat replies, the table, the AIME note and the artefacts; returns the table's numbers."""
    console.print()
    print_chat(console, "SFT model", done["eval-sft"]["chat"])
    print_chat(console, "RL model ", done["eval-rl"]["chat"])
    cmp = comparison(done)
    console.print(before_after_table(cmp, hk, ak))
    console.print(sign_test_line(cmp["paired"]), highlight=False)
    if max(cmp[x]["aime24"][f"avg@{ak}"] for x in ("SFT", "RL")) == 0:
        console.print("AIME 2024 scores 0 for both: a 2.7 MB model trained on one-digit arithmetic cannot solve "
                      "olympiad problems. Those rows show the real benchmark path (dataset, prompt, boxed-answer "
                      "grading, results DB) on the served checkpoints.")
    print_artefacts(console, done)
    return cmp


def print_artefacts(console: Console, done: dict) -> None:
    from ring_core.store import db

    rl = done["rl"]
    served = rl["reward_service"]
    t = Table(title="where things are", show_header=False)
    t.add_column("stage")
    t.add_column("artefacts")
    t.add_row("model", done["model"]["model"])
    t.add_row("sft", f"{done['sft']['dir']} (log {done['sft']['log']})")
    sel = done["select"]
    t.add_row("select", f"{sel['pick']} (by val_acc {sel['val_acc']:.3f}; entropy {sel['entropy']:.3f}; the paper's "
                        f"0.3-0.5 entropy window would pick {sel['by_entropy'].rsplit('/', 1)[-1]})")
    t.add_row("rl", f"{rl['checkpoint']} (log {rl['log']}); reward service: {served['reward_requests']:.0f} "
                    f"requests, {sum(served['items'].values()):.0f} items graded")
    for key in ("eval-sft", "eval-rl"):
        runs = ", ".join(f"{s} run {rid}" for s, rid in done[key]["runs"].items())
        t.add_row(key, f"model {done[key]['model']}: {runs} (vLLM log {done[key]['log']})")
    t.add_row("results DB", f"{db.redacted(db.database_url())}: leaderboard rows, training run "
                            f"{rl['training_run']} on the Training page")
    console.print(t)
