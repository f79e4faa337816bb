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
times steps at batch 64 and 1024 and prints the median over repeated timings
(CPU time of the process and wall-clock time). Given the benchmark binary, it
runs train_step/64 and train_step/1024 with repetitions and prints the speed
ratios (PyTorch time / deepenergy time, per CPU time: both sides are one
thread, and CPU time is less disturbed by other load on the machine).

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


def torch_step_times(torch, batch, repeats):
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
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        cpu.append((time.process_time() - c0) / n)
        wall.append((time.perf_counter() - w0) / n)
    return statistics.median(cpu), statistics.median(wall)


def deepenergy_times(binary, repeats):
    cmd = [binary, "--benchmark_filter=^train_step/(64|1024)$",
           f"--benchmark_repetitions={repeats}", "--benchmark_format=json"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    res = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
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
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread, "
          f"median of {repeats} timings")
    torch_t = {}
    for b in BATCHES:
        cpu, wall = torch_step_times(torch, b, repeats)
        torch_t[b] = (cpu, wall)
        print(f"  pytorch train step, batch {b:5d}: {cpu * 1e3:8.3f} ms CPU, "
              f"{wall * 1e3:8.3f} ms wall")

    if binary is None:
        print("(pass the path to deepenergy_bench to compare)")
        return 0
    de = deepenergy_times(binary, repeats)
    for b in BATCHES:
        if b not in de:
            continue
        cpu, wall = de[b]
        print(f"  deepenergy train_step/{b:<5d}      : {cpu * 1e3:8.3f} ms CPU, "
              f"{wall * 1e3:8.3f} ms wall;  deepenergy is "
              f"{torch_t[b][0] / cpu:.2f}x faster (CPU time), "
              f"{torch_t[b][1] / wall:.2f}x (wall clock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
