#!/usr/bin/env bash
# The one-command GPU check: on a machine with an NVIDIA GPU,
#   bench/gpu-check.sh OUTDIR
# 1. unpacks gpu-bundle.tar.gz (bench/gpu-bundle.sh makes it; GPU machines without a JDK or registry
#    access get it carried), building it first when it is missing and the machine has a JDK and Maven;
# 2. runs the GPU tests (@Tag("gpu")) and the byte-identity tests of every backend, which include cuda
#    where a GPU is usable; any skipped GPU test fails the check;
# 3. runs cuda/test/kernel_check under compute-sanitizer, memcheck and racecheck;
# 4. runs the GPU benchmarks (io.cubatch.bench.GpuBench);
# and writes OUTDIR/results.md with the date, the device and each step's outcome, beside the logs.
# Exit status: 0 when every step passed, 1 otherwise.
set -uo pipefail
out="${1:?usage: bench/gpu-check.sh OUTDIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
status=0
steps=()
jars() {   # every jar of the folders given, joined by ':' (JUnit's --class-path does not expand '*')
  local d
  for d in "$@"; do ls "$d"/*.jar; done | tr '\n' ':'
}
step() {   # name, exit code
  if [ "$2" -eq 0 ]; then steps+=("| $1 | passed |"); else steps+=("| $1 | FAILED (exit $2) |"); status=1; fi
}

if [ -f "$root/gpu-bundle.tar.gz" ]; then
  mode="prebuilt bundle (gpu-bundle.tar.gz)"
else
  # a machine with a JDK and Maven builds the same bundle, so both kinds of machine run the same steps
  "$root/bench/gpu-bundle.sh" >"$out/build.log" 2>&1
  step "build (bench/gpu-bundle.sh)" $?
  mode="built here (bench/gpu-bundle.sh)"
fi
work=/tmp/cubatch-gpu-check
rm -rf "$work" && mkdir -p "$work" && tar xzf "$root/gpu-bundle.tar.gz" -C "$work"
b="$work/gpu-bundle"
java="$b/jre/bin/java"
cp="$b/classes:$b/test-classes:$(jars "$b/lib" "$b/test-lib")"
launcher="$b/junit-console.jar"
kernel_check="$b/kernel_check"
flags=(--enable-native-access=ALL-UNNAMED)

{ nvidia-smi || echo "nvidia-smi failed"; } >"$out/nvidia-smi.txt" 2>&1
device="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

# 2. tests: the GPU-tagged ones, then the backend-equivalence tests (cuda included when usable)
cd "$out"
"$java" "${flags[@]}" -jar "$launcher" execute --class-path "$cp" --disable-banner --details=summary \
    --select-package io.cubatch.cuda --select-package io.cubatch.cli --include-tag gpu \
    --reports-dir "$out/junit-gpu" >"$out/gpu-tests.log" 2>&1
rc=$?
count() { grep -oE "\[ *[0-9]+ tests $1" "$2" | grep -oE "[0-9]+" || echo 0; }
found=$(count found "$out/gpu-tests.log")
passed=$(count successful "$out/gpu-tests.log")
# a GPU test that did not run (skipped, or aborted by its assumption: no usable GPU) fails the check
if [ "$rc" -eq 0 ] && { [ "$found" = "0" ] || [ "$passed" != "$found" ]; }; then rc=4; fi
step "GPU tests (@Tag gpu): $found found, $passed passed" $rc
"$java" "${flags[@]}" -jar "$launcher" execute --class-path "$cp" --disable-banner --details=summary \
    --select-class io.cubatch.collate.CollatorEquivalenceTest --select-class io.cubatch.collate.KerasPadSequencesTest \
    --select-class io.cubatch.collate.BackendsTest --reports-dir "$out/junit-equivalence" >"$out/equivalence-tests.log" 2>&1
rc=$?
found=$(count found "$out/equivalence-tests.log")
passed=$(count successful "$out/equivalence-tests.log")
step "byte-identity tests of every available backend: $found found, $passed passed" $rc
"$java" "${flags[@]}" -cp "$cp" io.cubatch.cli.Main info >"$out/info.txt" 2>&1
grep -q "backend cuda:   available" "$out/info.txt"
step "cubatch info lists the cuda backend as available" $?

# 3. compute-sanitizer on the kernels
sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
if [ -z "$sanitizer" ]; then
  step "compute-sanitizer (not found)" 1
else
  for tool in memcheck racecheck; do
    "$sanitizer" --tool "$tool" --error-exitcode 1 "$kernel_check" 40 >"$out/sanitizer-$tool.log" 2>&1
    step "compute-sanitizer --tool $tool kernel_check" $?
  done
fi

# 4. GPU benchmarks
"$java" "${flags[@]}" -cp "$cp" io.cubatch.bench.GpuBench "$out" >"$out/gpu-bench.txt" 2>&1
step "GPU benchmarks (GpuBench)" $?

{
  echo "# cubatch GPU check, $(date -u +%Y-%m-%d)"
  echo
  echo "- device: ${device:-unknown (nvidia-smi failed)}"
  echo "- commit: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- build: $mode"
  echo
  echo "| step | outcome |"
  echo "| --- | --- |"
  printf '%s\n' "${steps[@]}"
  echo
  echo "## GPU benchmarks"
  echo
  echo '```'
  cat "$out/gpu-bench.txt"
  echo '```'
} >"$out/results.md"
cat "$out/results.md"
exit $status
