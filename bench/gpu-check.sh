#!/usr/bin/env bash
# The one-command GPU check: on a machine with an NVIDIA GPU,
#   bench/gpu-check.sh OUTDIR
# 1. unpacks gpu-bundle.tar.gz (bench/gpu-bundle.sh makes it; GPU machines without a JDK or registry
#    access get it carried), building it first when it is missing and the machine has a JDK and Maven,
#    and refuses a bundle whose sources' fingerprint (gpu-bundle/SOURCE) differs from this checkout's;
# 2. runs the GPU tests (@Tag("gpu")) and the byte-identity tests of every backend, which include cuda
#    where a GPU is usable; any skipped GPU test fails the check;
# 3. runs cuda/test/kernel_check under compute-sanitizer, memcheck and racecheck;
# 4. runs the GPU benchmarks (io.cubatch.bench.GpuBench: pad kernel against a device-to-device copy of the
#    same bytes, H2D from pinned memory, compact H2D + pad end to end);
# 5. runs bench/peers/gpu_torch_peers.py on the same GPU: H2D from pinned memory by torch and the usual
#    PyTorch path (pad_sequence on the host, pin_memory(), .to('cuda', non_blocking=True)), with the ratios
#    to step 4 and the issue's targets (a machine without torch says so; that step fails, the rest stand);
# and writes OUTDIR/results.md (the date, the device, each step's outcome and time) and OUTDIR/gpu-check.tar.gz
# (results.md, the logs, the JUnit reports, gpu-bench.json): two files, since a lent GPU machine hands back
# at most 8. Both are rewritten after every step, so a run killed from outside still leaves what it had.
# Every step runs under its own wall-clock limit, so one hung step cannot eat the whole lease; a step that
# runs out is reported as TIMED OUT and fails the check, and the steps after it still run. Limits in
# seconds, from the environment: GPU_CHECK_TIMEOUT_BUILD (600), GPU_CHECK_TIMEOUT_TESTS (150, each of
# the two test runs), GPU_CHECK_TIMEOUT_INFO (30), GPU_CHECK_TIMEOUT_SANITIZER (60, each tool),
# GPU_CHECK_TIMEOUT_BENCH (120), GPU_CHECK_TIMEOUT_TORCH (30, the torch peers): with a carried bundle they add up to 600 s, the 600 s a lent
# machine gives one command.
# Exit status: 0 when every step passed, 1 otherwise.
set -uo pipefail
out="${1:?usage: bench/gpu-check.sh OUTDIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/bench/fingerprint.sh"
t_build=${GPU_CHECK_TIMEOUT_BUILD:-600}
t_tests=${GPU_CHECK_TIMEOUT_TESTS:-150}
t_info=${GPU_CHECK_TIMEOUT_INFO:-30}
t_sanitizer=${GPU_CHECK_TIMEOUT_SANITIZER:-60}
t_bench=${GPU_CHECK_TIMEOUT_BENCH:-120}
t_torch=${GPU_CHECK_TIMEOUT_TORCH:-30}
for t in "$t_build" "$t_tests" "$t_info" "$t_sanitizer" "$t_bench" "$t_torch"; do
  [[ $t =~ ^[1-9][0-9]*$ ]] || { echo "gpu-check: timeouts are whole seconds, not '$t'" >&2; exit 1; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work=/tmp/cubatch-gpu-check
case "$out/" in "$work"/*) echo "gpu-check: OUTDIR must not be under $work, which each run starts afresh" >&2; exit 1 ;; esac
logs="$work/gpu-check"   # everything the check writes; packed into OUTDIR/gpu-check.tar.gz
rm -rf "$work" && mkdir -p "$logs"
status=0
steps=()
notes=()
mode="" bundle_source="" bench_ran=no
jars() {   # every jar of the folders given, joined by ':' (JUnit's --class-path does not expand '*')
  local d
  for d in "$@"; do ls "$d"/*.jar; done | tr '\n' ':'
}
limited() {   # seconds, log, command...: runs the command under its limit, output into log; sets rc, took
  local secs=$1 log=$2 start=$SECONDS
  shift 2
  # TERM at the limit goes to the command's whole process group (a JVM's, Maven's, the sanitizer's
  # children); KILL 10 s later for one stuck in a driver call (the braces put bash's "Killed" in the log)
  { timeout --kill-after=10 "$secs" "$@"; } >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  # 124: timeout's TERM ended it; 137: its KILL did (an OOM kill too, hence the elapsed time)
  if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$took" -ge "$secs" ]; then timed_out=$secs; else timed_out=""; fi
}
step() {   # name, exit code; reads took and timed_out from the last `limited`
  if [ -n "${timed_out:-}" ]; then
    steps+=("| $1 | TIMED OUT after $timed_out s | ${took:-} |"); status=1
  elif [ "$2" -eq 0 ]; then
    steps+=("| $1 | passed | ${took:-} |")
  else
    steps+=("| $1 | FAILED (exit $2) | ${took:-} |"); status=1
  fi
  timed_out="" took=""
  report
}
report() {   # (re)writes results.md and gpu-check.tar.gz in OUTDIR from what has run so far
  local final=${1:-} f
  {
    echo "# cubatch GPU check, $(date -u +%Y-%m-%d)"
    echo
    echo "- device: ${device:-unknown (nvidia-smi failed)}"
    echo "- commit: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo "unknown (no git here)")"
    echo "- bundle: ${bundle_source:-not read}"
    echo "- build: ${mode:-none}"
    echo "- limits (s): build $t_build, tests $t_tests each, info $t_info, sanitizer $t_sanitizer each, bench $t_bench, torch $t_torch"
    if [ -z "$final" ]; then echo "- **incomplete**: the check was still running when this was written"; fi
    for f in "${notes[@]}"; do echo "- $f"; done
    if [ ${#steps[@]} -gt 0 ]; then
      echo
      echo "| step | outcome | s |"
      echo "| --- | --- | --- |"
      printf '%s\n' "${steps[@]}"
    fi
    if [ "$bench_ran" = yes ]; then
      echo
      echo "## GPU benchmarks"
      echo
      echo '```'
      cat "$logs/gpu-bench.txt"
      echo '```'
    fi
  } >"$logs/results.md"
  # a log that ran away (a sanitizer reporting every hazard, a test printing in a loop) is cut to its head
  # and tail, so the tarball stays under the 16 MiB a file may have on the way back
  find "$logs" -type f -size +4M -print0 | while IFS= read -r -d '' f; do
    { head -c 1M "$f"; printf '\n[... gpu-check: %s bytes cut to the first and last MiB ...]\n' "$(stat -c %s "$f")"; tail -c 1M "$f"; } >"$f.cut" &&
      mv -f "$f.cut" "$f"
  done
  cp "$logs/results.md" "$out/results.md"
  # packed beside, then copied: OUTDIR never holds half a tarball, nor a third file
  tar czf "$work/gpu-check.tar.gz" -C "$work" gpu-check && cp "$work/gpu-check.tar.gz" "$out/gpu-check.tar.gz"
}
finish() {
  report final
  cat "$logs/results.md"
  exit $status
}

# a GPU whose driver hangs hangs nvidia-smi too
{ timeout --kill-after=5 30 nvidia-smi || echo "nvidia-smi failed"; } >"$logs/nvidia-smi.txt" 2>&1
device="$(timeout --kill-after=5 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

if [ -f "$root/gpu-bundle.tar.gz" ]; then
  mode="prebuilt bundle (gpu-bundle.tar.gz)"
else
  # a machine with a JDK and Maven builds the same bundle, so both kinds of machine run the same steps
  mode="built here (bench/gpu-bundle.sh)"
  limited "$t_build" "$logs/build.log" "$root/bench/gpu-bundle.sh"
  step "build (bench/gpu-bundle.sh)" $rc
fi
if ! tar xzf "$root/gpu-bundle.tar.gz" -C "$work" 2>"$logs/unpack.log"; then
  notes+=("gpu-bundle.tar.gz could not be unpacked (see unpack.log): no step could run")
  status=1
  finish
fi
[ -s "$logs/unpack.log" ] || rm -f "$logs/unpack.log"
b="$work/gpu-bundle"
# a bundle built from other sources would test code that is not this checkout's, and look like it passed
want=$(cubatch_fingerprint "$root")
if [ -f "$b/SOURCE" ]; then
  have=$(awk '$1 == "sha256" { print $2 }' "$b/SOURCE")
  bundle_source="sources ${have:-unknown}, commit $(awk '$1 == "commit" { print $2 }' "$b/SOURCE"), dirty: $(awk '$1 == "dirty" { print $2 }' "$b/SOURCE")"
else
  have="" bundle_source="no gpu-bundle/SOURCE (built before fingerprints)"
fi
if [ "$have" != "$want" ]; then
  msg="gpu-bundle.tar.gz does not match this checkout: its sources' fingerprint is ${have:-missing (no gpu-bundle/SOURCE: built before fingerprints)}, this checkout's is $want; rerun bench/gpu-bundle.sh on the machine with the JDK and carry the new gpu-bundle.tar.gz"
  echo "gpu-check: $msg" >&2
  notes+=("**refused**: $msg")
  status=1
  finish
fi
java="$b/jre/bin/java"
cp="$b/test-classes:$(jars "$b/lib" "$b/test-lib")"
launcher="$b/junit-console.jar"
kernel_check="$b/kernel_check"
flags=(--enable-native-access=ALL-UNNAMED)

# 2. tests: the GPU-tagged ones, then the backend-equivalence tests (cuda included when usable); run from
# the log folder, so whatever a JVM drops in its working folder (hs_err files) is packed with the logs
cd "$logs" || exit 1
limited "$t_tests" "$logs/gpu-tests.log" "$java" "${flags[@]}" -jar "$launcher" execute --class-path "$cp" \
    --disable-banner --details=summary --select-package io.cubatch.cuda --select-package io.cubatch.cli --select-package io.cubatch.loader \
    --include-tag gpu --reports-dir "$logs/junit-gpu"
count() { grep -oE "\[ *[0-9]+ tests $1" "$2" | grep -oE "[0-9]+" || echo 0; }
found=$(count found "$logs/gpu-tests.log")
passed=$(count successful "$logs/gpu-tests.log")
# a GPU test that did not run (skipped, or aborted by its assumption: no usable GPU) fails the check
if [ "$rc" -eq 0 ] && { [ "$found" = "0" ] || [ "$passed" != "$found" ]; }; then rc=4; fi
step "GPU tests (@Tag gpu): $found found, $passed passed" $rc
limited "$t_tests" "$logs/equivalence-tests.log" "$java" "${flags[@]}" -jar "$launcher" execute --class-path "$cp" \
    --disable-banner --details=summary --select-class io.cubatch.collate.CollatorEquivalenceTest \
    --select-class io.cubatch.collate.KerasPadSequencesTest --select-class io.cubatch.collate.BackendsTest \
    --reports-dir "$logs/junit-equivalence"
found=$(count found "$logs/equivalence-tests.log")
passed=$(count successful "$logs/equivalence-tests.log")
step "byte-identity tests of every available backend: $found found, $passed passed" $rc
limited "$t_info" "$logs/info.txt" "$java" "${flags[@]}" -cp "$cp" io.cubatch.cli.Main info
if [ -z "$timed_out" ]; then grep -q "backend cuda:   available" "$logs/info.txt"; rc=$?; fi
step "cubatch info lists the cuda backend as available" $rc

# 3. compute-sanitizer on the kernels
sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
if [ -z "$sanitizer" ]; then
  step "compute-sanitizer (not found)" 1
else
  for tool in memcheck racecheck; do
    limited "$t_sanitizer" "$logs/sanitizer-$tool.log" "$sanitizer" --tool "$tool" --error-exitcode 1 "$kernel_check" 40
    step "compute-sanitizer --tool $tool kernel_check" $rc
  done
fi

# 4. GPU benchmarks (gpu-bench.json goes beside the logs)
limited "$t_bench" "$logs/gpu-bench.txt" "$java" "${flags[@]}" -cp "$cp" io.cubatch.bench.GpuBench "$logs"
bench_ran=yes
step "GPU benchmarks (GpuBench)" $rc

# 5. the PyTorch peers on the same GPU (H2D pinned by torch, pad_sequence + pin_memory + .to(cuda)) and the
# ratios to GpuBench's figures; a machine without torch says so and fails this step only
py="$(command -v python3 || true)"
if [ -z "$py" ]; then
  notes+=("python3 not found: the torch peer rows were not measured")
  step "PyTorch peers (python3 not found)" 1
else
  limited "$t_torch" "$logs/torch-peers.txt" "$py" "$root/bench/peers/gpu_torch_peers.py" \
      --cubatch "$logs/gpu-bench.json" --out "$logs/torch-peers.json"
  if [ "$rc" -eq 3 ]; then notes+=("$(tail -1 "$logs/torch-peers.txt")"); fi
  cat "$logs/torch-peers.txt" >> "$logs/gpu-bench.txt"
  step "PyTorch peers and ratios (bench/peers/gpu_torch_peers.py)" $rc
fi

finish
