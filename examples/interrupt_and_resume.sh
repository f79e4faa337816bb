#!/usr/bin/env bash
# ctest: (1) SIGINT during training saves a checkpoint and exits non-zero
# saying where it is, and --resume continues from it; (2) N steps, then
# --resume to N+M steps, gives the same model file as N+M steps in one run.
#   interrupt_and_resume.sh <example binary> <scratch dir>
set -euo pipefail
bin=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
common=(--eval-grid 16 --seed 4 --sample-steps 2)

# (1) interrupt a long run once it is training
"$bin" "${common[@]}" --steps 1000000 --out "$dir/int" 2>"$dir/int.err" >/dev/null &
pid=$!
for _ in $(seq 1 300); do
  grep -q "^training" "$dir/int.err" 2>/dev/null && break
  sleep 0.1
done
sleep 1
kill -INT "$pid"
set +e
wait "$pid"
code=$?
set -e
cat "$dir/int.err" >&2
[ "$code" -eq 130 ] || { echo "FAIL: exit code $code, expected 130" >&2; exit 1; }
grep -q "interrupted by SIGINT at step [0-9]*: checkpoint saved to $dir/int/model.ckpt" "$dir/int.err" ||
  { echo "FAIL: no message naming the checkpoint" >&2; exit 1; }
step=$(sed -n 's/.*interrupted by SIGINT at step \([0-9]*\).*/\1/p' "$dir/int.err")
"$bin" "${common[@]}" --resume "$dir/int/model.ckpt" --steps $((step + 5)) --out "$dir/int2" \
  >/dev/null 2>"$dir/int2.err" || { cat "$dir/int2.err" >&2; echo "FAIL: resume" >&2; exit 1; }

# (2) resume identity: 30 steps + resume to 60 == 60 steps
"$bin" "${common[@]}" --steps 60 --out "$dir/whole" >/dev/null 2>&1
"$bin" "${common[@]}" --steps 30 --out "$dir/part" >/dev/null 2>&1
"$bin" "${common[@]}" --resume "$dir/part/model.ckpt" --steps 60 --out "$dir/resumed" >/dev/null 2>&1
cmp "$dir/whole/model.ckpt" "$dir/resumed/model.ckpt" ||
  { echo "FAIL: resumed model differs from the uninterrupted one" >&2; exit 1; }
echo "PASS: interrupt at step $step saved and resumed; 30+30 steps == 60 steps bit for bit"
