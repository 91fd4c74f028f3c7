#!/usr/bin/env bash
# Measures what issue 17 asks of Arrow input: a ~2 GB Arrow IPC stream (list<int32> input_ids, 1000-row record
# batches) opens in under a second, with no copy of the values (the resident set grows by the offsets only).
# On request, not in CI (it writes 2 GB):  bench/arrow-open.sh [FILE] [GB]
# Prints the writer's and the reader's JSON lines; the reader runs in a fresh JVM with the page cache dropped
# when this runs as root (otherwise the file's pages may already be cached, which does not change RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdk.sh
cubatch_find_jdk
cubatch_require_maven
cubatch_maven_opts
file=${1:-target/arrow-2gb.arrow}
gb=${2:-2}
mvn -B -q -ntp test-compile >/dev/null
cp=$(mvn -B -q -ntp dependency:build-classpath -Dmdep.outputFile=/dev/stdout)
cp="target/classes:target/test-classes:$cp"
if [ ! -f "$file" ]; then
  "$JAVA_HOME/bin/java" -cp "$cp" io.cubatch.store.ArrowOpenMeasure write "$file" "$gb"
fi
sync
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches || true; fi
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" io.cubatch.store.ArrowOpenMeasure open "$file"
