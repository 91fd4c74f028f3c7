#!/usr/bin/env bash
# perf-profile.sh NAME JAR JMH-ARGS... : one JMH fork under `perf record -e cpu-clock` (this VM has no hardware
# counters), with the JVM's perf map dumped at exit so that JIT-compiled methods have names; writes NAME.perf,
# NAME.log and NAME.txt (the flat profile by library and symbol) in the current directory. The profiles/ of
# bench/results/*-session7 and *-session8 were taken with it, from their profiles/ directory:
#   bench/perf-profile.sh NAME src/cubatch-cli/target/cubatch.jar HonestBenchmark -p variant=V -p regime=R \
#       -p batchSize=8 -p src=int32 -p dtype=int32 -wi 4 -w 1s -i 3 -r 2s
# (bench/profile-short.sh takes JFR profiles instead: Java against native samples, by method.)
set -e
name=$1; jar=$2; shift 2
root="$(cd "$(dirname "$0")" && git rev-parse --show-toplevel)"
. "$root/scripts/jdk.sh"; cubatch_find_jdk >/dev/null
perf record -e cpu-clock -F 2000 -o "$name.perf" -- "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  -cp "$jar" org.openjdk.jmh.Main "$@" -f 1 -jvmArgs "--enable-native-access=ALL-UNNAMED -Xmx2g \
  --sun-misc-unsafe-memory-access=allow -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit" > "$name.log" 2>&1
# at once: perf resolves JIT symbols from /tmp/perf-PID.map, which a later cleanup may delete
perf report -i "$name.perf" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' \
  | head -40 | cut -c1-200 > "$name.txt"
