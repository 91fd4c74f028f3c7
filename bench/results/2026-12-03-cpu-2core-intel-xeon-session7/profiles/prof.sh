#!/usr/bin/env bash
# prof.sh NAME JAR ARGS... : one JMH fork under perf record (cpu-clock), perf map dumped at exit
set -e
name=$1; jar=$2; shift 2
cd /work/main; . scripts/jdk.sh; cubatch_find_jdk >/dev/null
rm -f /tmp/perf-*.map
perf record -e cpu-clock -F 2000 -g -o /tmp/qb/$name.perf -- "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar" org.openjdk.jmh.Main "$@" -f 1 \
  -jvmArgs "--enable-native-access=ALL-UNNAMED -Xmx2g --sun-misc-unsafe-memory-access=allow -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer" > /tmp/qb/$name.log 2>&1
perf report -i /tmp/qb/$name.perf --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40
