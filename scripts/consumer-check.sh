#!/usr/bin/env bash
# The "done when" checks of the artifacts (issue 15), run by ./test after `mvn install`, or alone after one:
#   1. jar --describe-module: the library jar is module io.cubatch and exports no internal package; the CUDA
#      backend's jar is module io.cubatch.cuda and provides the BackendProvider;
#   2. a fresh Maven project (scripts/consumer, copied to target/consumer) that depends on io.cubatch:cubatch
#      resolves, offline, no picocli, jline, progressbar, Jackson, JMH or JCuda (mvn dependency:tree), and runs a
#      plan, pads a batch through the native backend and iterates a loader, on the class path and on the module
#      path, without a native-access warning;
#   3. `java -jar cubatch.jar` copied alone into an empty directory runs every command (--version, info, plan,
#      pad, convert and pad of its output, run, probe, bench) and info lists the fatbin's architectures;
#   4. the aarch64 library is packaged and passes the C tests under qemu (or the build said why it could not).
# Prints one line per check ("check: ok ..." or "check: FAILED ..."), then "checks: N passed, N failed"; exits 1
# when one failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/jdk.sh
cubatch_find_jdk
cubatch_maven_opts
java=("$JAVA_HOME/bin/java")
version=$(awk '/<artifactId>cubatch-parent<\/artifactId>/ { p = 1 } p && /<version>/ { gsub(/.*<version>|<\/version>.*/, ""); print; exit }' pom.xml)
lib="src/cubatch/target/cubatch-$version.jar"
cudajar="src/cubatch-cuda/target/cubatch-cuda-$version.jar"
dist="src/cubatch-cli/target/cubatch.jar"
passed=0
failed=0
ok() { echo "check: ok: $*"; passed=$((passed + 1)); }
bad() { echo "check: FAILED: $*"; failed=$((failed + 1)); }
work="$root/target/consumer-check"
rm -rf "$work"
mkdir -p "$work"

# 1. the module descriptors
if d=$("$JAVA_HOME/bin/jar" --describe-module --file "$lib" 2>&1); then
  exports=$(echo "$d" | awk '$1 == "exports" { print $2 }' | tr '\n' ' ')
  if [[ $(echo "$d" | head -n 1) == io.cubatch@* ]] && [[ -n $exports ]] && ! [[ $exports == *internal* ]]; then
    ok "jar --describe-module $lib: module io.cubatch, exports ${exports% }, no internal package"
  else
    bad "jar --describe-module $lib: $(echo "$d" | tr '\n' ';')"
  fi
else
  bad "jar --describe-module $lib: $d"
fi
if d=$("$JAVA_HOME/bin/jar" --describe-module --file "$cudajar" 2>&1) && [[ $(echo "$d" | head -n 1) == io.cubatch.cuda@* ]] &&
   echo "$d" | grep -q '^provides io.cubatch.collate.BackendProvider with io.cubatch.cuda.CudaBackendProvider'; then
  ok "jar --describe-module $cudajar: module io.cubatch.cuda, provides io.cubatch.collate.BackendProvider"
else
  bad "jar --describe-module $cudajar: $(echo "$d" | tr '\n' ';')"
fi

# 2. a trainer's project that depends on the library
cp -r scripts/consumer "$work/project"
if (cd "$work/project" && mvn -o -B -q -ntp -Dstyle.color=never -Dcubatch.version="$version" compile dependency:tree \
      -DoutputFile=tree.txt dependency:build-classpath -Dmdep.outputFile=cp.txt >"$work/mvn.log" 2>&1); then
  tree=$(tail -n +2 "$work/project/tree.txt" | sed 's/^[^a-z]*//' | tr '\n' ' ')
  if grep -Eiq 'picocli|jline|progressbar|jackson|jmh|jcuda|jcublas' "$work/project/tree.txt"; then
    bad "the library pulls a CLI, JSON, JMH or CUDA dependency: $tree"
  else
    ok "a project depending on io.cubatch:cubatch:$version resolves only: ${tree:-nothing} (no picocli, jline, progressbar, Jackson, JMH or JCuda)"
  fi
  cp=$(cat "$work/project/cp.txt")
  if out=$("${java[@]}" --enable-native-access=ALL-UNNAMED -cp "$work/project/target/classes:$cp" example.Trainer 2>"$work/cp.err") &&
     [[ $out == *"trainer: ok"* ]] && ! grep -q WARNING "$work/cp.err"; then
    ok "class path, --enable-native-access=ALL-UNNAMED: $(echo "$out" | grep -E '^(pad|loader):' | tr '\n' ' ')"
  else
    bad "the trainer on the class path: $out $(cat "$work/cp.err")"
  fi
  if out=$("${java[@]}" --enable-native-access=io.cubatch -p "$cp" --add-modules io.cubatch \
             -cp "$work/project/target/classes" example.Trainer 2>"$work/mp.err") &&
     [[ $out == *"trainer: ok"* ]] && ! grep -q WARNING "$work/mp.err"; then
    ok "module path, --enable-native-access=io.cubatch: trainer ok"
  else
    bad "the trainer on the module path: $out $(cat "$work/mp.err")"
  fi
else
  bad "the consumer project did not build offline against the installed artifacts (mvn install first): $(tail -n 20 "$work/mvn.log")"
fi

# 3. the CLI distribution, alone in an empty directory
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$dist" "$tmp/cubatch.jar"
cli() { (cd "$tmp" && "${java[@]}" -jar cubatch.jar "$@"); }
expect() {   # expect CODE TEXT -- ARGS: runs the command, checks its exit code and that its output has TEXT
  local code=$1 text=$2 out rc
  shift 3
  out=$(cli "$@" 2>&1)
  rc=$?
  if [ "$rc" = "$code" ] && [[ $out == *"$text"* ]]; then
    ok "java -jar cubatch.jar $* (exit $rc): $(echo "$out" | grep -F -m 1 "$text" | cut -c1-150)"
  else
    bad "java -jar cubatch.jar $*: exit $rc (expected $code), output without '$text': $(echo "$out" | tail -n 5 | cut -c1-300)"
  fi
}
expect 0 "cubatch $version (commit " -- --version
if unzip -l "$cudajar" | grep -F -c 'io/cubatch/cuda/cubatch-fatbin.properties' >/dev/null; then   # grep -q would stop reading: SIGPIPE under pipefail
  expect 0 "kernels: cubatch.fatbin packaged: SASS sm_75, " -- info
else
  expect 0 "kernels: not built: " -- info
fi
expect 0 '"global_batch_size":32' -- plan --samples 103 --global-batch-size 32 --world-size 4 --remainder pad --last-batch partial --format json
printf '[1, 2, 3]\n[4]\n' > "$tmp/in.jsonl"
expect 0 '"data":[[1,2,3],[4,0,0]]' -- pad --input in.jsonl --padding post --dtype int32 --format json
expect 0 '"files": ["out.npy", "out.offsets.npy"]' -- convert --input in.jsonl --output out.npy --format json
expect 0 '"data":[[1,2,3],[4,0,0]]' -- pad --input out.npy --padding post --dtype int32 --format json
expect 0 '"batches"' -- run --epochs 1 --format json
info=$(cli info 2>/dev/null)
if [[ $info =~ (^|$'\n')gpu:\ *none\ usable ]]; then
  expect 3 "probe: no usable GPU: " -- probe
else
  expect 0 "" -- probe
fi
mkdir -p "$tmp/results"
cp bench/results/2026-11-22-cpu-2core-amd-epyc/jmh.json "$tmp/results/"
expect 0 "" -- bench --summarize results
if [ -s "$tmp/results/summary.md" ] && [ -s "$tmp/results/chart.png" ]; then
  ok "bench --summarize wrote summary.md and chart.png from the jar alone"
else
  bad "bench --summarize wrote no summary.md or chart.png"
fi
expect 0 "Quick by default" -- bench --help

# 4. the aarch64 library
if unzip -l "$lib" | grep -F -c 'io/cubatch/native/linux-aarch64/libcubatch.so' >/dev/null; then
  if out=$(scripts/native-cross.sh test ../src/cubatch/target/classes/io/cubatch/native/linux-aarch64 \
             ../src/cubatch/target/native-build-aarch64 2>&1) && [[ $out == *"test_cubatch-aarch64: all checks passed"* ]]; then
    ok "the jar carries linux-x86_64 and linux-aarch64 libcubatch; $(echo "$out" | tail -n 1) (qemu-aarch64)"
  else
    bad "the aarch64 C tests under qemu: $out"
  fi
else
  note=$(unzip -p "$lib" io/cubatch/native/linux-aarch64-unavailable.txt 2>/dev/null)
  if [ -n "$note" ]; then
    ok "linux-aarch64 not packaged, and the jar says why: $note (aarch64 C tests not run)"
  else
    bad "neither the linux-aarch64 library nor a note saying why it is missing is in $lib"
  fi
fi

echo "checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
