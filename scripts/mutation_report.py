"""Run mutmut on chosen core modules and print one score per module, a total and the survivors.

    python scripts/mutation_report.py [--modules arithmetic preprocess] [--floor 95] [--no-run]

A module is a file under lenet_gui/core (``ops.conv`` for lenet_gui/core/ops/conv.py).
Without --modules every module of the core is tested (this takes a long while on two
cores). The score is caught / (caught + survived + not tested); timeouts and
crashes count as caught, as mutmut counts them. Equivalent mutants (listed in
docs/testing.md) are left in the denominator, so the printed score is a floor of
the share of real mutants caught. ``--floor`` fails (exit 1) when any chosen
module scores below it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "lenet_gui" / "core"
CAUGHT = {1, 3, 36, 24, -24, 152, 255, -11, -9, 37}  # killed, timeout, segfault, type check
SURVIVED = {0}
NOT_TESTED = {5, 33}  # no test reaches the mutated function
# None: not run yet (a run limited to other mutants, or stopped); left out of the score.


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE).with_suffix("")
        if rel.name != "__init__":
            names.append(".".join(rel.parts))
    return names


def mutant_prefix(module: str) -> str:
    return f"lenet_gui.core.{module}."


def mutant_patterns(module: str, functions: list[str] | None) -> list[str]:
    """mutmut's name globs: 'image_to_*' → x_image_to_*__mutmut_*, 'InputSpec.*' → xǁInputSpecǁ*."""
    if not functions:
        return [mutant_prefix(module) + "*"]
    out = []
    for f in functions:
        if "." in f:
            cls, _, method = f.partition(".")
            out.append(f"{mutant_prefix(module)}xǁ{cls}ǁ{method}__mutmut_*")
        else:
            out.append(f"{mutant_prefix(module)}x_{f}__mutmut_*")
    return out


def run_mutmut(modules: list[str], max_children: int, functions: list[str] | None = None) -> int:
    patterns = [p for m in modules for p in mutant_patterns(m, functions)]
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(max_children), *patterns]
    print("$", " ".join(command[1:]), flush=True)
    # mutmut prints one line per mutant; keep the log out of the report.
    log = ROOT / "mutants" / "mutmut-run.log"
    log.parent.mkdir(exist_ok=True)
    env = dict(os.environ, HYPOTHESIS_PROFILE="mutation", QT_QPA_PLATFORM="offscreen")
    with open(log, "w") as out:
        return subprocess.call(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)


def results(module: str) -> dict[str, int | None]:
    meta = ROOT / "mutants" / "lenet_gui" / "core" / (module.replace(".", "/") + ".py.meta")
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    prefix = mutant_prefix(module)
    return {k: v for k, v in codes.items() if k.startswith(prefix)}


def selected(codes: dict, module: str, functions: list[str] | None) -> dict:
    if not functions:
        return codes
    patterns = mutant_patterns(module, functions)
    return {k: v for k, v in codes.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}


def show(name: str, module: str) -> str:
    """The changed lines of one mutant, on one line."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        diff = get_diff_for_mutant(name, path=Path("lenet_gui/core") / (module.replace(".", "/") + ".py"))
    except Exception:  # another mutmut version: ask its command line
        mutmut = Path(sys.executable).with_name("mutmut")
        diff = subprocess.run([str(mutmut), "show", name], cwd=ROOT, capture_output=True, text=True).stdout
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return " | ".join(line.strip() for line in changed)


def function_of(name: str, module: str) -> str:
    """'x_image_to_field__mutmut_3' → 'image_to_field'; methods read 'InputSpec.tensor_shape'."""
    bare = name[len(mutant_prefix(module)):].rsplit("__mutmut_", 1)[0]
    return bare[2:] if bare.startswith("x_") else bare.lstrip("xǁ").replace("ǁ", ".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", help="core modules, e.g. arithmetic preprocess (default: all)")
    parser.add_argument("--functions", nargs="*",
                        help="only these functions of the module(s), globs allowed: load_image 'image_to_*' 'InputSpec.*'")
    parser.add_argument("--floor", type=float, default=None, help="fail below this score (percent)")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="report the last run only")
    parser.add_argument("--keep", action="store_true",
                        help="reuse mutants/ from the last run (mutmut then retests only what it thinks changed)")
    parser.add_argument("--no-diffs", action="store_true", help="name the survivors without their diffs")
    parser.add_argument("--by-function", action="store_true", help="also print a score per function")
    args = parser.parse_args(argv)
    known = core_modules()
    modules = args.modules or known
    unknown = [m for m in modules if m not in known]
    if unknown:
        print(f"unknown module(s) {', '.join(unknown)}; the core has: {', '.join(known)}", file=sys.stderr)
        return 2
    if not args.no_run:
        if not args.keep:
            # A fresh start: results cached from before a test changed would be stale.
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        started = time.monotonic()
        code = run_mutmut(modules, args.max_children, args.functions)
        print(f"mutmut ran for {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            print(f"mutmut failed (exit {code}); see mutants/mutmut-run.log", file=sys.stderr)
            return code
    os.chdir(ROOT)
    rows, survivors, below, per_function = [], [], [], {}
    total_caught = total_all = 0
    for module in modules:
        codes = selected(results(module), module, args.functions)
        caught = sum(1 for v in codes.values() if v in CAUGHT)
        survived = sorted(k for k, v in codes.items() if v in SURVIVED)
        untested = sorted(k for k, v in codes.items() if v in NOT_TESTED)
        counted = caught + len(survived) + len(untested)
        score = 100.0 * caught / counted if counted else float("nan")
        rows.append((module, counted, caught, len(survived), len(untested), score))
        survivors += [(k, module, "survived") for k in survived] + [(k, module, "no test") for k in untested]
        for k, v in codes.items():
            entry = per_function.setdefault(f"{module}: {function_of(k, module)}", [0, 0])
            entry[0] += v in CAUGHT
            entry[1] += v in CAUGHT or v in SURVIVED or v in NOT_TESTED
        total_caught += caught
        total_all += counted
        if args.floor is not None and not round(score, 1) >= args.floor:  # as printed
            below.append(module)
    print(f"\n{'module':<22}{'mutants':>8}{'caught':>8}{'survived':>9}{'no test':>8}{'score':>8}")
    for module, counted, caught, survived, untested, score in rows:
        print(f"{module:<22}{counted:>8}{caught:>8}{survived:>9}{untested:>8}{score:>7.1f}%")
    if total_all:
        print(f"{'total':<22}{total_all:>8}{total_caught:>8}{'':>17}{100.0 * total_caught / total_all:>7.1f}%")
    if args.by_function:
        print(f"\n{'function':<46}{'mutants':>8}{'caught':>8}{'score':>8}")
        for function, (caught, counted) in per_function.items():
            if counted:
                print(f"{function:<46}{counted:>8}{caught:>8}{100.0 * caught / counted:>7.1f}%")
    if survivors:
        print(f"\n{len(survivors)} mutants not caught (`mutmut show NAME` gives the diff):")
        for name, module, why in survivors:
            print(f"  {name} ({why})" + ("" if args.no_diffs else f"\n      {show(name, module)}"))
    if below:
        print(f"\nbelow the floor of {args.floor}%: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
