#!/usr/bin/env python3
"""One training step of the paper configuration in PyTorch, against deepenergy.

Usage:
  bench/compare_pytorch.py [path/to/deepenergy_bench] [--repeats N]

The PyTorch model mirrors deepenergy::paper (paper.hpp), on the CPU with one
thread (torch.set_num_threads(1)):
  energy     f(x): Linear(2,128) ReLU Linear(128,128) ReLU, 128 softplus experts,
             E(x) = -sum_k softplus(w_k . f(x) + b_k) + |x|^2 / 2
  generator  G(z): Linear(4,128) ReLU Linear(128,128) ReLU Linear(128,2), z ~ U[-1,1]^4
  optimiser  AdaGrad, learning rate 0.01, for both networks
  one step   energy update: loss = mean E(data batch) - mean E(G(z)) (G(z) detached)
             generator update: fresh z, loss = mean E(G(z)) with the energy's
             weights not requiring grad
as deepenergy's DeepEnergyGAN::step does (benchmark train_step/<batch>). It
times steps at batch 64 and 1024 (CPU time of the process and wall-clock
time). Given the benchmark binary, each of N rounds times PyTorch and then
train_step/64 and train_step/1024 once, so that both sides of a ratio see the
same load on a shared machine; it prints the medians of the times and of the
rounds' speed ratios (PyTorch time / deepenergy time; both sides are one
thread, and CPU time is less disturbed by other load).

Needs torch (Debian: apt-get install python3-torch, then run it with
/usr/bin/python3); without it, it says so and exits 0. Not part of CI.
"""
import json
import os
import statistics
import subprocess
import sys
import time

BATCHES = (64, 1024)


def torch_stepper(torch, batch):
    """Returns a function that times one run of n steps: (CPU s, wall s) per step."""
    nn = torch.nn
    torch.manual_seed(0)
    feat = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
    experts = nn.Linear(128, 128)
    gen = nn.Sequential(nn.Linear(4, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                        nn.Linear(128, 2))
    e_params = list(feat.parameters()) + list(experts.parameters())
    opt_e = torch.optim.Adagrad(e_params, lr=0.01, eps=1e-8)
    opt_g = torch.optim.Adagrad(gen.parameters(), lr=0.01, eps=1e-8)
    data = torch.randn(16384, 2)
    softplus = nn.functional.softplus

    def energy(x):
        return -softplus(experts(feat(x))).sum(dim=1) + 0.5 * (x * x).sum(dim=1)

    def latent():
        return torch.rand(batch, 4) * 2.0 - 1.0

    def step():
        # energy update (positive phase on data, negative phase on G(z))
        idx = torch.randint(0, data.shape[0], (batch,))
        x_data = data[idx]
        with torch.no_grad():
            x_gen = gen(latent())
        opt_e.zero_grad(set_to_none=False)
        loss_e = energy(x_data).mean() - energy(x_gen).mean()
        loss_e.backward()
        opt_e.step()
        # generator update: gradient through E to x, no energy weight grads
        for p in e_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=False)
        loss_g = energy(gen(latent())).mean()
        loss_g.backward()
        opt_g.step()
        for p in e_params:
            p.requires_grad_(True)

    for _ in range(10):
        step()
    # Steps per timing: about 0.2 s of work each.
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-6)
    n = max(3, int(0.2 / one))

    def time_block():
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        return (time.process_time() - c0) / n, (time.perf_counter() - w0) / n

    return time_block


def deepenergy_times(binary):
    """One timing of train_step/64 and /1024: {batch: (CPU s, wall s)}."""
    cmd = [binary, "--benchmark_filter=^train_step/(64|1024)$", "--benchmark_min_time=0.2",
           "--benchmark_format=json"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    res = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "iteration":
            batch = int(b["run_name"].split("/")[1])
            res[batch] = (b["cpu_time"] * unit[b["time_unit"]],
                          b["real_time"] * unit[b["time_unit"]])
    return res


def main():
    args = sys.argv[1:]
    repeats = 7
    if "--repeats" in args:
        i = args.index("--repeats")
        repeats = int(args[i + 1])
        del args[i:i + 2]
    binary = args[0] if args else None

    # One thread for real: torch.set_num_threads(1) alone leaves OpenBLAS's
    # own thread pool running (CPU time twice the wall time on a 2-core box).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch
    except ImportError:
        print("compare_pytorch.py: PyTorch is not installed for this Python "
              f"({sys.executable}); nothing to compare. On Debian: apt-get install "
              "python3-torch, then run this script with /usr/bin/python3.")
        return 0

    torch.set_num_threads(1)
    steppers = {b: torch_stepper(torch, b) for b in BATCHES}
    # Rounds: each times PyTorch and (given the binary) deepenergy once per
    # batch, back to back, so that both see the same load on a shared
    # machine; the ratios are medians of the rounds' ratios.
    torch_t = {b: [] for b in BATCHES}
    de_t = {b: [] for b in BATCHES}
    for _ in range(repeats):
        for b in BATCHES:
            torch_t[b].append(steppers[b]())
        if binary is not None:
            for b, t in deepenergy_times(binary).items():
                if b in de_t:
                    de_t[b].append(t)
    med = statistics.median
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread, "
          f"medians of {repeats} interleaved rounds")
    for b in BATCHES:
        cpu, wall = med(t[0] for t in torch_t[b]), med(t[1] for t in torch_t[b])
        print(f"  pytorch train step, batch {b:5d}: {cpu * 1e3:8.3f} ms CPU, "
              f"{wall * 1e3:8.3f} ms wall")
    if binary is None:
        print("(pass the path to deepenergy_bench to compare)")
        return 0
    for b in BATCHES:
        if len(de_t[b]) != len(torch_t[b]):
            continue
        cpu, wall = med(t[0] for t in de_t[b]), med(t[1] for t in de_t[b])
        rc = med(p[0] / d[0] for p, d in zip(torch_t[b], de_t[b]))
        rw = med(p[1] / d[1] for p, d in zip(torch_t[b], de_t[b]))
        print(f"  deepenergy train_step/{b:<5d}      : {cpu * 1e3:8.3f} ms CPU, "
              f"{wall * 1e3:8.3f} ms wall;  deepenergy is {rc:.2f}x faster (CPU time), "
              f"{rw:.2f}x (wall clock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
