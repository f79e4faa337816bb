#!/usr/bin/env python3
"""Summarise deepenergy_bench results: GFLOP/s, share of the reference GEMM, samples/s.

Usage:
  bench/report.py build/release/bench/deepenergy_bench [extra benchmark flags...]
  bench/report.py results.json          (output of --benchmark_format=json or --benchmark_out)

With a binary, it runs it with --benchmark_format=json (add e.g.
--benchmark_repetitions=5 --benchmark_filter=train_step). With repetitions the
median aggregate of each benchmark is used. GFLOP/s and samples/s are per
CPU second (the benchmark's default timer); the share column divides a
kernel's GFLOP/s by reference_gemm's at the same batch (width sweeps use
reference_gemm/1024; *_double kernels use reference_gemm_double). The two-thread speed-up is computed
from wall-clock times. Python 3 standard library only.
"""
import json
import re
import subprocess
import sys


def load(argv):
    if not argv:
        sys.exit(__doc__)
    path = argv[0]
    if path.endswith(".json"):
        with open(path) as f:
            return json.load(f)
    cmd = [path, "--benchmark_format=json"] + argv[1:]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def pick(benchmarks):
    """name -> entry; medians when there are repetitions, else the runs."""
    medians = {}
    runs = {}
    for b in benchmarks:
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[b["run_name"]] = b
        else:
            runs.setdefault(b.get("run_name", b["name"]), b)
    return medians if medians else runs


def main():
    data = load(sys.argv[1:])
    ctx = data.get("context", {})
    rows = pick(data["benchmarks"])

    def split(name):
        m = re.match(r"^([A-Za-z0-9_]+)/(\d+)", name)
        return (m.group(1), int(m.group(2))) if m else (name, 0)

    ref, ref_double = {}, {}
    for name, b in rows.items():
        kernel, arg = split(name)
        if kernel == "reference_gemm":
            ref[arg] = b.get("GFLOP/s", 0.0)
        elif kernel == "reference_gemm_double":
            ref_double[arg] = b.get("GFLOP/s", 0.0)

    print(f"# {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
          f"load {ctx.get('load_avg', '?')}, "
          f"{'medians' if any(b.get('run_type') == 'aggregate' for b in data['benchmarks']) else 'single runs'}")
    print(f"| {'kernel':<20} | {'batch/width':>11} | {'GFLOP/s':>8} | {'share of GEMM':>13} | "
          f"{'samples/s':>10} | {'ms/iter (cpu)':>13} |")
    print(f"|{'-' * 22}|{'-' * 13}|{'-' * 10}|{'-' * 15}|{'-' * 12}|{'-' * 15}|")
    for name in sorted(rows, key=lambda n: (not split(n)[0].startswith("reference_gemm"), split(n))):
        b = rows[name]
        kernel, arg = split(name)
        gf = b.get("GFLOP/s", 0.0)
        ref_arg = arg if kernel not in ("train_step_width",) else 1024
        table = ref_double if kernel.endswith("_double") else ref
        r = table.get(ref_arg) or table.get(1024)
        share = f"{100.0 * gf / r:.0f}%" if r else "-"
        ms = b["cpu_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        print(f"| {kernel:<20} | {arg:>11} | {gf:>8.2f} | {share:>13} | "
              f"{b.get('items_per_second', 0.0):>10.0f} | {ms:>13.3f} |")

    # Two threads against one, from wall-clock time (CPU time of the main
    # thread does not include the second thread's work).
    for name, b in rows.items():
        kernel, arg = split(name)
        if kernel == "train_step_2threads":
            one = rows.get(f"train_step/{arg}")
            if one:
                print(f"two threads / one thread, train_step/{arg} (wall clock): "
                      f"{one['real_time'] / b['real_time']:.2f}x")


if __name__ == "__main__":
    main()
