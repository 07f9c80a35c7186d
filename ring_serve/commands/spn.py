"""`ring spn learn|random|map|bench`: sum-product networks and MAP inference (package ``spn``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(help="Sum-product networks over binary variables: learn, generate, answer MAP queries, "
                       "compare solvers.", no_args_is_help=True)


def _fail(exc: Exception) -> None:
    print(f"ring spn: {exc}", file=sys.stderr)
    raise typer.Exit(2)


def _data_files(data: Path) -> tuple[Path, Path | None]:
    """(train file, test file or None) for a .data file or a NAME/ folder of NAME.*.data."""
    if data.is_dir():
        train, test = data / f"{data.name}.train.data", data / f"{data.name}.test.data"
        return train, (test if test.exists() else None)
    return data, None


@app.command("learn")
def spn_learn(data: Path = typer.Argument(..., help="0/1 CSV rows, or a NAME/ folder with NAME.train.data."),
              out: Path = typer.Option(..., "--out", "-o", help="Where to write the SPN (text format)."),
              min_rows: int = typer.Option(200, help="Fewer rows than this: factorise."),
              g_threshold: float = typer.Option(10.83, help="G-test statistic for dependence."),
              seed: int = typer.Option(0, help="Clustering seed.")) -> None:
    """Learn an SPN with LearnSPN and write it; prints its size and the test log-likelihood."""
    from spn import textformat
    from spn.learn import LearnOptions, learn_spn, mean_log_likelihood, read_data
    from spn.network import SPNError

    try:
        train, test = _data_files(data)
        spn = learn_spn(read_data(train), LearnOptions(min_rows=min_rows, g_threshold=g_threshold, seed=seed))
        textformat.write(spn, out)
        report = {"spn": str(out), "vars": spn.n_vars, "nodes": spn.n_nodes, "arcs": spn.n_edges}
        if test is not None:
            report["test_log_likelihood"] = mean_log_likelihood(spn, read_data(test))
    except SPNError as exc:
        _fail(exc)
    print(json.dumps(report))


@app.command("random")
def spn_random(vars_: int = typer.Option(..., "--vars", min=1, help="Number of variables."),
               arcs: int = typer.Option(..., min=2, help="Target number of arcs."),
               out: Path = typer.Option(..., "--out", "-o", help="Where to write the SPN."),
               share: float = typer.Option(0.3, help="Chance of reusing a sub-SPN (DAG sharing)."),
               seed: int = typer.Option(0)) -> None:
    """Generate a random valid SPN of about the given size."""
    from spn import textformat
    from spn.generate import random_spn
    from spn.network import SPNError

    try:
        spn = random_spn(vars_, arcs, seed=seed, share=share)
    except SPNError as exc:
        _fail(exc)
    textformat.write(spn, out)
    print(json.dumps({"spn": str(out), "vars": spn.n_vars, "nodes": spn.n_nodes, "arcs": spn.n_edges}))


@app.command("map")
def spn_map(spn_file: Path = typer.Argument(..., help="SPN in the text format."),
            query: str = typer.Option("rest", help="Query variables: 0,3,5-9, or 'rest' (all but evidence)."),
            evidence: str = typer.Option("", help="Evidence: VAR=0/1,... (other variables are summed out)."),
            method: str = typer.Option("exact", help="exact, brute, best_tree, kbt, greedy, amap or beam."),
            time_limit: float = typer.Option(None, help="Exact solver: seconds before best-so-far."),
            k: int = typer.Option(10, help="K-Best Tree: trees kept per node."),
            width: int = typer.Option(10, help="Beam search: beam width.")) -> None:
    """Answer one MAP query; prints the assignment, log value and whether it is proven optimal."""
    from spn import textformat
    from spn.network import SPNError
    from spn.queries import parse_evidence, parse_vars
    from spn.solvers import solve

    options = {"exact": {"time_limit": time_limit}, "kbt": {"k": k}, "beam": {"width": width}}.get(method, {})
    try:
        spn = textformat.read(spn_file)
        ev = parse_evidence(evidence, spn.n_vars)
        q = parse_vars(query, spn.n_vars, taken=set(ev))
        result = solve(spn, q, ev, method, **options)
    except SPNError as exc:
        _fail(exc)
    print(json.dumps(result.to_json()))


@app.command("bench")
def spn_bench(spn_file: Path = typer.Argument(..., help="SPN in the text format."),
              methods: str = typer.Option("exact,best_tree,kbt,greedy,amap,beam", help="Comma-separated."),
              step: float = typer.Option(0.2, help="Grid step for the Q/E/H fractions (0.1 = tenths)."),
              repeats: int = typer.Option(1, min=1, help="Random queries per grid point."),
              time_limit: float = typer.Option(10.0, help="Exact solver limit per query (seconds)."),
              seed: int = typer.Option(0),
              json_out: Path = typer.Option(None, "--json", help="Also write the summary as JSON here."),
              store: bool = typer.Option(False, help="Save the runs in the results DB ($RING_DB_URL).")) -> None:
    """Compare solvers on the query grid: best-value share, mean log-probability, mean time."""
    from spn import textformat
    from spn.bench import compare, format_summary
    from spn.network import SPNError

    try:
        spn = textformat.read(spn_file)
        comparison = compare(spn, tuple(m.strip() for m in methods.split(",") if m.strip()), step=step,
                             repeats=repeats, seed=seed, time_limit=time_limit)
    except SPNError as exc:
        _fail(exc)
    summary = comparison.summary()
    print(f"{spn_file}: {spn.n_vars} vars, {spn.n_nodes} nodes, {spn.n_edges} arcs, "
          f"{len(comparison.results)} queries")
    print(format_summary(summary))
    if json_out is not None:
        json_out.write_text(json.dumps({"spn": str(spn_file), "queries": len(comparison.results),
                                        "summary": summary}, indent=1))
    if store:
        from ring_core.store import db
        from spn.results import save

        db.upgrade()
        with db.session() as s:
            runs = save(s, spn_file.stem, spn_file.read_text(), comparison,
                        {"step": step, "repeats": repeats, "seed": seed, "time_limit": time_limit})
        print(f"stored in {db.redacted(db.database_url())}: runs " +
              ", ".join(f"{m}={i}" for m, i in runs.items()))
