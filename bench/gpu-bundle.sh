#!/usr/bin/env bash
# Builds gpu-bundle.tar.gz at the repository root (ignored by git): what bench/gpu-check.sh needs on a GPU
# machine that has no JDK and no Maven (this workplace's GPU machines have neither, and reach no
# registry). It holds a jlink-ed Java runtime, the runnable jar with its libraries (JCuda's natives cut to the
# driver and cuBLAS bindings), the test classes of every module with their libraries and JUnit's console launcher, and the
# kernel_check program, and gpu-bundle/SOURCE: the commit, whether the tree was dirty, and the sources'
# fingerprint (bench/fingerprint.sh), which gpu-check.sh compares with the checkout it runs in.
# Run here, then carry gpu-bundle.tar.gz to the GPU machine with the checkout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/jdk.sh"
. "$root/bench/fingerprint.sh"
cubatch_find_jdk
cubatch_require_maven
cubatch_maven_opts
cd "$root"
# The GPU machine receives git's tracked and untracked-not-ignored files and has no git to list them, so
# fingerprint.sh lists them with find; a file only one of the two lists sees would make every check there
# refuse this bundle. Files git still tracks but that are gone from the tree are not in it either.
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  ours=$(cubatch_fingerprint_files "$root" | tr '\0' '\n')
  gits=$(git -C "$root" ls-files -z -co --exclude-standard -- "${CUBATCH_FINGERPRINT_PATHS[@]}" | LC_ALL=C sort -zu |
    while IFS= read -r -d '' f; do if [ -f "$f" ] && [ ! -L "$f" ]; then printf '%s\n' "$f"; fi; done)
  if [ "$ours" != "$gits" ]; then
    echo "gpu-bundle: bench/fingerprint.sh and git disagree on the source files (< fingerprint.sh only, > git only):" >&2
    diff <(printf '%s\n' "$ours") <(printf '%s\n' "$gits") | grep '^[<>]' >&2 || true
    echo "gpu-bundle: make its prunes mirror .gitignore again (or drop the stray files), then rerun" >&2
    exit 1
  fi
  commit=$(git -C "$root" rev-parse HEAD)
  if [ -n "$(git -C "$root" status --porcelain --untracked-files=normal)" ]; then dirty=yes; else dirty=no; fi
else
  commit=unknown dirty=unknown
fi
fingerprint=$(cubatch_fingerprint "$root")
# every module built and installed (the CLI module's test class path names the others' test jars)
mvn -B -q -ntp -DskipTests -Dmaven.javadoc.skip -Dmaven.source.skip install
lib=target/bundle-test-lib
rm -rf "$lib" && mkdir -p "$lib"
# test libraries of the CLI module (it depends on every other module), without cubatch's own artifacts (the
# runnable jar and the test classes below hold them), without Jazzer (fuzzing stays on the CPU) and without
# JUnit's own jars (the console launcher carries them)
mvn -B -q -ntp -pl src/cubatch-cli dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$root/$lib" \
    -DexcludeGroupIds=io.cubatch,com.code-intelligence,org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian
mvn -B -q -ntp -pl src/cubatch-cli dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 \
    -DoutputDirectory="$root/$lib/launcher"
stage=target/gpu-bundle
rm -rf "$stage" && mkdir -p "$stage/lib" "$stage/test-lib" "$stage/test-classes"
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported,jdk.management \
    --strip-debug --no-header-files --no-man-pages --compress zip-9 --output "$stage/jre"
# the runnable jar holds cubatch and every runtime library; keep only the JCuda JNI libraries cubatch loads
# (driver API, cuBLAS): drop NVRTC, nvPTXCompiler, the runtime API and the other CUDA libraries' bindings
cp src/cubatch-cli/target/cubatch.jar "$stage/lib/cubatch.jar"
zip -q -d "$stage/lib/cubatch.jar" 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*' 'lib/libJCudaRuntime*' 'lib/libJCublas-*' >/dev/null || true
for j in "$lib"/*.jar; do   # test-only libraries: what the runnable jar does not already hold
  n=$(basename "$j")
  case "$n" in jcuda*|jcublas*|jfreechart-*|jmh-*|picocli-*|progressbar-*|jline-*|jackson-core-*) continue ;; esac
  cp "$j" "$stage/test-lib/"
done
cp "$lib"/launcher/*.jar "$stage/junit-console.jar"
for m in src/cubatch src/cubatch-cuda src/cubatch-cli; do
  cp -r "$m/target/test-classes/." "$stage/test-classes/"
done
cp src/cubatch-cuda/target/cuda-check/kernel_check "$stage/"
# a source edited while Maven ran may or may not be in the classes: no fingerprint can vouch for them
if [ "$(cubatch_fingerprint "$root")" != "$fingerprint" ]; then
  echo "gpu-bundle: the sources changed during the build; rerun bench/gpu-bundle.sh" >&2
  exit 1
fi
printf 'commit %s\ndirty %s\nsha256 %s\n' "$commit" "$dirty" "$fingerprint" >"$stage/SOURCE"
# packed beside, then moved: a build killed while packing leaves the previous bundle, never half of one
tar czf target/gpu-bundle.tar.gz -C target gpu-bundle
mv -f target/gpu-bundle.tar.gz gpu-bundle.tar.gz
echo "gpu-bundle.tar.gz: $(du -h gpu-bundle.tar.gz | cut -f1), sources ${fingerprint:0:16} (commit ${commit:0:12}, dirty: $dirty)" \
  "(carry it with the checkout; bench/gpu-check.sh unpacks it and checks the sources match)"
