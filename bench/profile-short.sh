#!/usr/bin/env bash
# profile-short.sh DIR: JFR profiles of the rows issue 13's full run leaves short, one fork each, into
# DIR/profiles/ (the .jfr files and, per row, `jfr view hot-methods` and the count of Java against native
# samples). This VM exposes no hardware counters, so JMH's perfasm cannot run; JFR's sampler can: its
# jdk.ExecutionSample events are threads running Java code, jdk.NativeMethodSample threads in native code
# (libcubatch's downcalls, memcpy).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/jdk.sh
cubatch_find_jdk >/dev/null
jar="$root/src/cubatch-cli/target/cubatch.jar"
[ -f "$jar" ] || ./cubatch --version >/dev/null
dir="${1:?usage: bench/profile-short.sh DIR}/profiles"
mkdir -p "$dir"
profile() {   # profile NAME JMH-ARGS...
    local name="$1"; shift
    rm -rf "$dir/$name.tmp"
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar" org.openjdk.jmh.Main "$@" -f 1 -wi 2 -w 500ms \
        -i 3 -r 1s -jvmArgs "--enable-native-access=ALL-UNNAMED -Xmx2g --sun-misc-unsafe-memory-access=allow" \
        -prof "jfr:dir=$dir/$name.tmp;configName=profile" > "$dir/$name.jmh.log" 2>&1
    local f
    f="$(find "$dir/$name.tmp" -name '*.jfr' | head -1)"
    mv "$f" "$dir/$name.jfr"
    rm -rf "$dir/$name.tmp"
    {
        echo "# $name: $*"
        grep -E '^HonestBenchmark|^Benchmark' "$dir/$name.jmh.log" || true
        for e in jdk.ExecutionSample jdk.NativeMethodSample; do
            echo "$e: $("$JAVA_HOME/bin/jfr" summary "$dir/$name.jfr" 2>/dev/null | awk -v e="$e" '$1 == e {print $2}')"
        done
        "$JAVA_HOME/bin/jfr" view --width 160 hot-methods "$dir/$name.jfr" 2>&1 | head -30
        echo "## native samples, top frames"
        "$JAVA_HOME/bin/jfr" print --events jdk.NativeMethodSample --stack-depth 2 "$dir/$name.jfr" \
            | grep -A1 'stackTrace = \[' | grep -v 'stackTrace\|^--' | sed 's/line:.*//' | sort | uniq -c | sort -rn | head -8
    } > "$dir/$name.txt"
    echo "profile-short: $dir/$name.txt"
}
hb() { echo HonestBenchmark -p src=int32 "$@"; }
profile java-streaming-1024 $(hb -p variant=javaBackend -p regime=streaming -p batchSize=1024 -p dtype=int32)
profile ceilingJava-streaming-1024 $(hb -p variant=ceilingJava -p regime=streaming -p batchSize=1024 -p dtype=int32)
profile native-steady-8 $(hb -p variant=nativeBackend -p regime=steady -p batchSize=8 -p dtype=int32)
profile java-steady-8 $(hb -p variant=javaBackend -p regime=steady -p batchSize=8 -p dtype=int32)
profile native-steady-1024 $(hb -p variant=nativeBackend -p regime=steady -p batchSize=1024 -p dtype=int32)
profile java-bfloat16-256 $(hb -p variant=javaBackend -p regime=steady -p batchSize=256 -p dtype=bfloat16)
