#!/usr/bin/env bash
# The README's Results tables: the paper's literal recipe, each stabiliser
# (and each entropy term), the examples' defaults and variants of them,
# trained and evaluated by the spiral program on
# each data set and seed; prints one Markdown row per (data set, recipe) with
# the median over seeds and the range, and keeps every run's metrics.json.
# "NLL jump" is the largest change of the held-out NLL between two of the
# run's ten evaluations in its second half (metrics.json, nll_trace).
# "modes", "high quality" and MMD^2 are of the refined samples (the
# generator's after --sample-steps Langevin steps on the energy), the "G"
# columns of the generator's own; "sample s" is what the refinement cost.
#
#   bash examples/ablation.sh [BUILD_DIR] [OUT_DIR]
#   DATASETS="two-spiral" SEEDS="1 2 3" RECIPES="paper default" JOBS=2 bash examples/ablation.sh
#
# BUILD_DIR defaults to build/release (build the spiral target first); runs
# go to OUT_DIR (default out/ablation)/<data set>/<recipe>/seed<N>. A run
# whose metrics.json exists is not repeated (unless its flags or the program's
# defaults changed), so an interrupted sweep resumes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/release}
out=${2:-out/ablation}
spiral="$build/examples/spiral"
[[ -x "$spiral" ]] || { echo "error: $spiral not found; build it: cmake --build --preset release --target spiral" >&2; exit 2; }
command -v python3 > /dev/null || { echo "error: python3 is needed to summarise the runs" >&2; exit 2; }

datasets=${DATASETS:-"two-spiral four-spin eight-gaussians twenty-five-gaussians"}
seeds=${SEEDS:-"1 2 3 4 5"}
recipes=${RECIPES:-"paper entropy entropy_neighbours batchnorm_entropy fourier langevin persistent gradient_penalty energy_penalty default jumps restart05 no_average cooperative no_energy_penalty default_kernel default_batchnorm"}
jobs=${JOBS:-2}

# Each recipe as flags on top of the program's defaults. "paper" switches
# every addition off; the single-stabiliser rows add one thing to it.
paper_flags="--fourier-scale 0 --entropy 0 --langevin-steps 0 --energy-penalty 0 --energy-lr 0.01 --energy-average 0"
# Recipes from before the 2% default restart rate pin the earlier 5%; on the
# 8 and 25 Gaussians that rate never applied (every chain restarts unless
# --langevin-restart is given), so nothing is pinned there. On those two,
# instead, recipes that predate their default 5 jump rounds pin 0 rounds (the
# spirals' default is 0, so nothing is pinned on them).
flags_of() {  # recipe dataset
  local restart05="--langevin-restart 0.05" jumps0=""
  local dataset=${2-}
  case "${dataset//_/-}" in eight-gaussians | twenty-five-gaussians) restart05="" jumps0="--langevin-jumps 0" ;; esac
  case "$1" in
    paper) echo "$paper_flags" ;;
    entropy) echo "--fourier-scale 0 --langevin-steps 0 --energy-penalty 0 --energy-lr 0.01 --entropy-neighbours 0 --energy-average 0" ;;
    entropy_neighbours) echo "--fourier-scale 0 --langevin-steps 0 --energy-penalty 0 --energy-lr 0.01 --entropy-neighbours 10 --energy-average 0" ;;
    batchnorm_entropy) echo "$paper_flags --batchnorm-entropy 1" ;;
    fourier) echo "--entropy 0 --langevin-steps 0 --energy-penalty 0 --energy-lr 0.01 --energy-average 0" ;;
    langevin) echo "--fourier-scale 0 --entropy 0 --energy-penalty 0 --energy-lr 0.01 --langevin-restart 1 --energy-average 0${jumps0:+ $jumps0}" ;;
    persistent) echo "--fourier-scale 0 --entropy 0 --energy-penalty 0 --energy-lr 0.01 --energy-average 0${restart05:+ $restart05}${jumps0:+ $jumps0}" ;;  # langevin with persistent chains
    gradient_penalty) echo "$paper_flags --gradient-penalty 0.1" ;;
    energy_penalty) echo "--fourier-scale 0 --entropy 0 --langevin-steps 0 --energy-lr 0.01 --energy-penalty 0.001 --energy-average 0" ;;
    default) echo "" ;;
    restart05) echo "$restart05${jumps0:+ $jumps0}" ;;  # 5% of the chains restart (the earlier default)
    jumps) echo "--langevin-jumps 1" ;;  # the default with a round of jumps between chains per step
    jumps5) echo "--langevin-jumps 5" ;;  # five rounds (the mixtures' default; not in the default list)
    no_jumps) echo "--langevin-jumps 0" ;;  # the mixtures' default before their 5 jump rounds (not in the default list)
    mi) echo "--mi-entropy 1" ;;  # MEG's mutual-information entropy beside the default's (not in the default list)
    data_restart) echo "--langevin-data-restart 0.5" ;;  # half the negative chains start at the data batch (not in the default list)
    sample_jumps) echo "--sample-jump-every 10" ;;  # the default, sampled with a round of jumps every 10 sampling steps (not in the default list)
    data_restart_jumps) echo "--langevin-data-restart 0.5 --sample-jump-every 10" ;;  # data_restart, sampled so (not in the default list)
    mi_jumps) echo "--mi-entropy 1 --langevin-jumps 1" ;;  # and one round of jumps (on the mixtures fewer than their 5; not in the default list)
    no_average) echo "--energy-average 0${restart05:+ $restart05}${jumps0:+ $jumps0}" ;;  # restart05 at the last parameters, not their average
    cooperative) echo "--langevin-restart 1 --entropy-neighbours 0 --energy-average 0${jumps0:+ $jumps0}" ;;  # the default before persistent chains
    restart20) echo "--langevin-restart 0.2 --entropy-neighbours 0 --energy-average 0${jumps0:+ $jumps0}" ;;  # the README's 20% restarts on the mixtures
    no_energy_penalty) echo "--langevin-restart 1 --entropy-neighbours 0 --energy-penalty 0 --energy-average 0${jumps0:+ $jumps0}" ;;  # cooperative without the penalty
    default_kernel) echo "--entropy-neighbours 0 --energy-average 0${restart05:+ $restart05}${jumps0:+ $jumps0}" ;;  # the kernel's weights (the earlier default)
    default_batchnorm) echo "--entropy 0 --batchnorm-entropy 1 --energy-average 0${restart05:+ $restart05}${jumps0:+ $jumps0}" ;;  # the extended paper's entropy
    # The previous default's entropy variants (the README's entropy tables;
    # not in the default list: RECIPES="cooperative_neighbours ...").
    cooperative_neighbours) echo "--langevin-restart 1 --entropy-neighbours 10 --energy-average 0${jumps0:+ $jumps0}" ;;
    cooperative_batchnorm) echo "--langevin-restart 1 --entropy 0 --batchnorm-entropy 1 --energy-average 0${jumps0:+ $jumps0}" ;;
    *) echo "error: unknown recipe '$1'" >&2; exit 2 ;;
  esac
}

# A finished run is reused only if it ran with the same flags and the same
# program defaults (--help lists them), so a changed default reruns it.
defaults_hash=$("$spiral" --help | cksum | cut -d' ' -f1)

run_one() {  # dataset recipe seed
  local dir="$out/$1/$2/seed$3"
  local signature
  signature="$defaults_hash $(flags_of "$2" "$1")"
  [[ -f "$dir/metrics.json" && "$(cat "$dir/signature.txt" 2> /dev/null)" == "$signature" ]] && return 0
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$signature" > "$dir/signature.txt"
  local rc=0
  # shellcheck disable=SC2046  # the flags are words on purpose
  "$spiral" --dataset "$1" --seed "$3" --out "$dir" $(flags_of "$2" "$1") > "$dir/log.txt" 2>&1 || rc=$?
  if (( rc == 130 || rc == 143 )); then
    rm -rf "$dir"  # interrupted: run it again next time
  elif (( rc != 0 )); then
    echo "run failed (see $dir/log.txt): $spiral --dataset $1 --seed $3 $(flags_of "$2" "$1")" >&2
    echo '{"failed": true}' > "$dir/metrics.json"
  fi
}

for d in $datasets; do
  for r in $recipes; do
    flags_of "$r" "$d" > /dev/null
    for s in $seeds; do
      while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
      run_one "$d" "$r" "$s" &
    done
  done
done
wait

python3 - "$out" "$datasets" "$recipes" "$seeds" <<'PY'
import json, statistics, sys
out, datasets, recipes, seeds = sys.argv[1], *[a.split() for a in sys.argv[2:5]]
def fmt(vals, f):
    if not vals: return "failed"
    med = statistics.median(vals)
    return f.format(med) if len(vals) == 1 else f.format(med) + " (" + f.format(min(vals)) + " to " + f.format(max(vals)) + ")"
print("| data set | recipe | runs | NLL gap (nats) | modes | high quality | G modes | G high quality | MMD^2 | G MMD^2 | NLL jump, 2nd half | train s | sample s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for d in datasets:
    for r in recipes:
        ms = []
        for s in seeds:
            try:
                with open(f"{out}/{d}/{r}/seed{s}/metrics.json") as f:
                    m = json.load(f)
            except FileNotFoundError:  # interrupted run
                m = {"failed": True}
            ms.append(m)
        ok = [m for m in ms if not m.get("failed")]
        # Non-finite numbers are null in metrics.json: leave them out.
        gap = [m["gap"] for m in ok if m.get("gap") is not None]
        modes = [m["modes_covered"] for m in ok if m.get("modes_covered") is not None]
        total = next((m["modes_total"] for m in ok if m.get("modes_total")), None)
        hq = [100 * m["high_quality_fraction"] for m in ok if m.get("high_quality_fraction") is not None]
        gmodes = [m["generator_modes_covered"] for m in ok if m.get("generator_modes_covered") is not None]
        ghq = [100 * m["generator_high_quality_fraction"] for m in ok if m.get("generator_high_quality_fraction") is not None]
        print(f"| {d} | {r} | {len(ok)}/{len(ms)} | {fmt(gap, '{:.2f}')} | "
              f"{fmt(modes, '{:.0f}') + '/' + str(total) if modes else '-'} | "
              f"{fmt(hq, '{:.0f}%') if hq else '-'} | "
              f"{fmt(gmodes, '{:.0f}') + '/' + str(total) if gmodes else '-'} | "
              f"{fmt(ghq, '{:.0f}%') if ghq else '-'} | {fmt([m['mmd2'] for m in ok if m.get('mmd2') is not None], '{:.1e}')} | "
              f"{fmt([m['generator_mmd2'] for m in ok if m.get('generator_mmd2') is not None], '{:.1e}') if any(m.get('generator_mmd2') is not None for m in ok) else '-'} | "
              f"{fmt([m['nll_max_jump_second_half'] for m in ok if m.get('nll_max_jump_second_half') is not None], '{:.2g}') if any(m.get('nll_max_jump_second_half') is not None for m in ok) else '-'} | "
              f"{fmt([m['train_seconds'] for m in ok], '{:.0f}')} | "
              f"{fmt([m['sample_seconds'] for m in ok if m.get('sample_seconds') is not None], '{:.0f}') if any(m.get('sample_seconds') is not None for m in ok) else '-'} |")
PY
