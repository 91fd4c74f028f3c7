#!/usr/bin/env bash
# run-cpu.sh [DIR]: the full CPU run of the honest benchmarks (issue 13), into DIR (default
# bench/results/DATE-MACHINE). Per group, 3 passes of one JMH fork of every variant, the backends and both
# ceilings in the same run; then bench/honest_summary.py writes DIR/summary.md and summary.json. Takes about 35
# minutes on 2 cores; run it on a quiet machine (it records `uptime` before and after).
#   QUICK=1 bench/run-cpu.sh DIR    one pass, short iterations: a smoke test of the script, not figures
#   ONLY="int32 epoch" bench/run-cpu.sh DIR    only these groups (of int32 dtypes epoch pack threads split)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/jdk.sh
cubatch_find_jdk >/dev/null
jar="$root/src/cubatch-cli/target/cubatch.jar"   # the runnable jar ./cubatch builds
[ -f "$jar" ] || ./cubatch --version >/dev/null
model="$(lscpu | sed -n 's/^Model name: *//p' | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/-$//')"
dir="${1:-bench/results/$(date -u +%F)-cpu-$(nproc)core-${model:-unknown}}"
mkdir -p "$dir"
# 4 warmup seconds: after 2 x 500 ms the java backend at batch 256 was still being recompiled (its copy loop's
# profiled predicates trap a few times before C2 settles), and its first measured second was up to 30 % below the
# same fork's third
passes=3 wi=4 w=1s i=3 r=1s
[ -n "${QUICK:-}" ] && passes=1 wi=1 w=200ms i=2 r=200ms
jvm="--enable-native-access=ALL-UNNAMED -Xmx2g --sun-misc-unsafe-memory-access=allow"
# jmh NAME ARGS...: the group in $passes passes of one fork each, into $dir/jmh-NAME-passK.json and the log. A
# pass runs one fork of every variant, the variants of a workload back to back, so a backend and its ceilings
# are measured within a minute of each other in every pass; honest_summary.py takes a backend's ratio in each
# pass and the median over passes. (-f 3 in one run put a variant's 3 forks together and the variants minutes
# apart, so a drift of a shared host between them went into the ratios.)
jmh() {
    local name="$1"; shift
    case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    for pass in $(seq "$passes"); do
        echo "== $name pass $pass: $*" | tee -a "$dir/jmh.log"
        "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar" org.openjdk.jmh.Main "$@" \
            -f 1 -wi "$wi" -w "$w" -i "$i" -r "$r" -prof gc -jvmArgs "$jvm" \
            -rf json -rff "$dir/jmh-$name-pass$pass.json" >>"$dir/jmh.log" 2>&1
    done
}
{
    echo "date: $(date -u +%FT%TZ)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, LLC $(cat /sys/devices/system/cpu/cpu0/cache/index3/size 2>/dev/null || echo '?')"
    echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "load before: $(uptime)"
} > "$dir/machine.txt"
# the host's share of the run: vmstat every 5 s, timestamped (column st: the time the hypervisor gave this
# machine's vCPUs to others), so that a fork's low figure can be set against what the host did meanwhile
vmstat -t 5 > "$dir/vmstat.txt" 2>/dev/null &
vmstat_pid=$!
trap 'kill "$vmstat_pid" 2>/dev/null || true' EXIT
# int32 -> int32, both regimes, every batch size: the java >= 0.9x and native >= 1.0x targets
jmh int32 'HonestBenchmark' -p regime=steady,streaming -p batchSize=8,64,256,1024 -p src=int32 -p dtype=int32
# dtype pairs (steady, batch 256): >= 0.5x on both backends
jmh dtypes 'HonestBenchmark' -p variant=ceilingC,javaBackend,nativeBackend -p regime=steady -p batchSize=256 \
    -p src=int32,int64,float32 -p dtype=float32,float16,bfloat16
# full epochs, batch 64, reused slot
jmh epoch 'EpochBenchmark'
# packing against padding the same batches: >= 0.5x
jmh pack 'PackBenchmark'
# two threads, each its own slot and collator (a loader's workers): compare with threads=1 in jmh-int32
jmh threads 'HonestBenchmark' -p variant=ceilingC,javaBackend,nativeBackend -t 2 -p regime=steady -p batchSize=256 \
    -p src=int32 -p dtype=int32
# one batch split over threads: batch 1024 (over 4 MB of output, so libcubatch splits its rows) with the JVM
# told it has one processor (the native backend and the C ceiling take their thread count from
# availableProcessors; java splits only where the JVM counts more than one),
# against the same rows of jmh-int32 on every processor
jmh split 'HonestBenchmark' -p variant=ceilingC,javaBackend,nativeBackend -p regime=steady,streaming -p batchSize=1024 \
    -p src=int32 -p dtype=int32 -jvmArgsAppend -XX:ActiveProcessorCount=1
echo "load after: $(uptime)" >> "$dir/machine.txt"
python3 bench/honest_summary.py "$dir" > /dev/null
echo "run-cpu: wrote $dir (summary.md, summary.json, jmh-*.json, jmh.log, machine.txt)"
