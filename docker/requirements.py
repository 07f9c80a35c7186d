"""Print the requirements of ring-lab's extras, one per line, self-references expanded.

The image installs these before copying the source, so a source-only change reuses the heavy
dependency layer (pip cannot install "only the dependencies" of a project by itself).
Usage: python3 requirements.py pyproject.toml EXTRA [EXTRA...]
"""
import re
import sys
import tomllib


def expand(project: dict, extras: list[str]) -> list[str]:
    name = project["name"]
    optional = project.get("optional-dependencies", {})
    out, seen, todo = list(project.get("dependencies", [])), set(), list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            sys.exit(f"unknown extra {extra!r}; have {', '.join(sorted(optional))}")
        seen.add(extra)
        for req in optional[extra]:
            own = re.fullmatch(rf"{re.escape(name)}\[([^\]]+)\]", req.strip())
            if own:  # "ring-lab[eval]": another extra of this project, not a package to fetch
                todo += [e.strip() for e in own.group(1).split(",")]
            else:
                out.append(req)
    return sorted(set(out))


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as fh:
        project = tomllib.load(fh)["project"]
    print("\n".join(expand(project, sys.argv[2:])))
