#!/usr/bin/env bash
# A real launcher test: 4 ranks of `./cubatch run` on one dataset, started by Open MPI's mpirun, and again as 4
# processes with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE). Each rank takes its rank
# from the launcher's environment and writes the sample ids it loaded (--emit-samples); the test checks that the
# ranks' first-seen samples are disjoint and that their union is the epoch, with a shuffled, ramped-up plan of
# micro-batches. ./test runs it after the Maven build. Installs Debian's openmpi-bin with apt-get when mpirun is
# missing; skipped, with the reason, only where it cannot be installed.
#
# Exit code: 0 passed, 1 failed, 77 skipped. The last line is always "launcher: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
ranks=4
samples=1003

if ! command -v mpirun >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "launcher: mpirun missing; installing openmpi-bin with apt-get" >&2
    (apt-get install -y -q openmpi-bin || (apt-get update -q && apt-get install -y -q openmpi-bin)) >target/launcher-apt.log 2>&1
  fi
  if ! command -v mpirun >/dev/null 2>&1; then
    echo "launcher: skipped: mpirun is not installed and could not be installed here (needs root and apt-get;" \
      "see target/launcher-apt.log); install Open MPI (Debian: apt-get install openmpi-bin) to run it"
    exit 77
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cubatch-launcher.XXXXXX")
trap 'rm -rf "$work"' EXIT
# the dataset: sample i is a sequence of (i % 50) + 1 tokens of value i
awk -v n="$samples" 'BEGIN { for (i = 0; i < n; i++) { s = "["; for (t = 0; t <= i % 50; t++) s = s (t ? "," : "") i; print s "]" } }' \
  >"$work/data.jsonl"
args=(run --input "$work/data.jsonl" --global-batch-size 32 --micro-batch-size 4 --rampup-batch-size 16 16 400
  --shuffle --seed 16 --remainder pad --last-batch partial --prefetch 2 --workers 1 --format json)
export JAVA_TOOL_OPTIONS="-Xmx256m -XX:TieredStopAtLevel=1"
./cubatch info >/dev/null 2>"$work/build.err" || { echo "launcher: FAILED: ./cubatch does not start:"; cat "$work/build.err"; exit 1; }

# Checks one launch: every rank wrote its file, saw its own rank, and the first-seen samples partition [0, samples).
check() {
  local name=$1 dir=$2 r
  for ((r = 0; r < ranks; r++)); do
    if [ ! -s "$dir/samples-$r.jsonl" ]; then
      echo "launcher: FAILED ($name): rank $r wrote no samples; its output:"; cat "$dir"/out-* "$dir"/err-* 2>/dev/null | tail -20
      return 1
    fi
    if grep -qv "^{\"rank\":$r," "$dir/samples-$r.jsonl"; then
      echo "launcher: FAILED ($name): samples-$r.jsonl holds batches of another rank"; return 1
    fi
  done
  # first-seen entries: samples[0 : n - repeated - filled]
  cat "$dir"/samples-*.jsonl | sed -E 's/.*"samples":\[([^]]*)\],"repeated":([0-9]+),"filled":([0-9]+).*/\1 \2 \3/' |
    awk '{ n = split($1, ids, ","); keep = n - $2 - $3; for (i = 1; i <= keep; i++) print ids[i] }' | sort -n >"$dir/seen"
  local total unique
  total=$(wc -l <"$dir/seen")
  unique=$(uniq <"$dir/seen" | wc -l)
  if [ "$total" -ne "$unique" ]; then
    echo "launcher: FAILED ($name): $((total - unique)) samples seen by two ranks (or twice)"; return 1
  fi
  if ! diff -q <(seq 0 $((samples - 1))) "$dir/seen" >/dev/null; then
    echo "launcher: FAILED ($name): the ranks saw $unique distinct samples, not the epoch's $samples"; return 1
  fi
  echo "launcher: $name: $ranks ranks, disjoint samples, union = the epoch's $samples samples"
}

status=0
mkdir -p "$work/mpi" "$work/torchrun"
mpirun --allow-run-as-root --oversubscribe -np "$ranks" \
  sh -c 'exec ./cubatch "$@" >"$0/out-$OMPI_COMM_WORLD_RANK" 2>"$0/err-$OMPI_COMM_WORLD_RANK"' "$work/mpi" \
  "${args[@]}" --emit-samples "$work/mpi/samples-{rank}.jsonl" >"$work/mpi/mpirun.log" 2>&1 || {
  echo "launcher: FAILED (mpirun): exit code $?:"; tail -20 "$work/mpi/mpirun.log"; cat "$work"/mpi/err-* 2>/dev/null | tail -20; status=1; }
[ $status -ne 0 ] || check "mpirun (Open MPI)" "$work/mpi" || status=1

pids=()
for ((r = 0; r < ranks; r++)); do
  env -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE RANK=$r WORLD_SIZE=$ranks LOCAL_RANK=$r LOCAL_WORLD_SIZE=$ranks \
    ./cubatch "${args[@]}" --emit-samples "$work/torchrun/samples-{rank}.jsonl" \
    >"$work/torchrun/out-$r" 2>"$work/torchrun/err-$r" &
  pids+=($!)
done
for p in "${pids[@]}"; do
  wait "$p" || { echo "launcher: FAILED (torchrun-style): a rank exited with $?"; cat "$work"/torchrun/err-* | tail -20; status=1; }
done
[ $status -ne 0 ] || check "torchrun-style environment" "$work/torchrun" || status=1

if [ $status -eq 0 ]; then
  echo "launcher: passed (mpirun and torchrun-style, $ranks ranks each)"
else
  echo "launcher: FAILED"
fi
exit $status
