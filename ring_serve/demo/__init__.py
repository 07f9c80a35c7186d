"""`ring demo`: the README's first command, the whole Ring-lite recipe on the tiny model.

| module | job |
|---|---|
| `recipe.py` | the seed's recipe (steps, suites), its stages and their measured durations |
| `state.py` | stage markers in `RING_HOME/demo/seedN/state.json` (resume, `--fresh`) |
| `records.py` | what the demo reads from / deletes in the results DB |
| `jobs.py` | `ring train ...` commands run to completion through the one launcher (`Service`) |
| `children.py` | every child stopped on exit, failure, Ctrl-C, SIGTERM |
| `progress.py` | the one progress display: stage rows, elapsed times, the estimate for the rest |
| `serving.py` | serve a checkpoint, one chat request, `ring eval` held-out + AIME 2024 |
| `stages.py` | the stages: model, sft, select, eval-sft, rl, eval-rl |
| `report.py` | the chat replies, the before/after table with the sign test, the artefacts |
| `dashboard.py` | `ring dashboard` in the background until Ctrl-C |
| `pipeline.py` | runs the stages in order, reusing finished ones |
| `quick.py` | `ring demo --quick`: serve + chat + a small eval (about 2 minutes) |
"""
