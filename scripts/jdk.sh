# Sourced by ./cubatch and ./test: finds a JDK >= 22 (java.lang.foreign is final since 22) and exports
# JAVA_HOME, so a user types the README's commands and nothing else.
# Order: $JAVA_HOME if it is new enough, then the system's installed JVMs (newest first), then `java`
# on PATH. Prints what to install and returns 1 when none qualifies.

CUBATCH_MIN_JDK=22

# Prints the feature version (17, 21, 25, ...) of the JDK at $1, or nothing when it is not a JDK.
cubatch_jdk_version() {
  local home=$1 release line
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  release="$home/release"
  if [ -f "$release" ]; then
    line=$(grep -E '^JAVA_VERSION=' "$release" | head -n 1)
    line=${line#JAVA_VERSION=\"}
    line=${line%%\"*}
  else
    line=$("$home/bin/java" -version 2>&1 | head -n 1 | sed -E 's/.*version "([^"]*)".*/\1/')
  fi
  line=${line#1.}
  echo "${line%%[.+-]*}"
}

cubatch_find_jdk() {
  local candidates=() seen="" home version best="" best_version=0
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for home in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
              "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$home" ] && candidates+=("$home")
  done
  if command -v java >/dev/null 2>&1; then
    home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    candidates+=("$home")
  fi
  # JAVA_HOME wins when it qualifies; otherwise the newest qualifying JDK.
  if [ -n "${JAVA_HOME:-}" ]; then
    version=$(cubatch_jdk_version "$JAVA_HOME")
    if [ -n "$version" ] && [ "$version" -ge "$CUBATCH_MIN_JDK" ]; then
      export JAVA_HOME
      return 0
    fi
  fi
  for home in "${candidates[@]}"; do
    version=$(cubatch_jdk_version "$home")
    [ -n "$version" ] || continue
    seen="$seen  $home (JDK $version)"$'\n'
    if [ "$version" -ge "$CUBATCH_MIN_JDK" ] && [ "$version" -gt "$best_version" ]; then
      best=$home
      best_version=$version
    fi
  done
  if [ -z "$best" ]; then
    {
      echo "cubatch: no JDK $CUBATCH_MIN_JDK or newer found (java.lang.foreign is final since JDK 22; JDK 25 is tested)."
      if [ -n "$seen" ]; then echo "JDKs found, all too old:"; printf '%s' "$seen"; fi
      [ -n "${JAVA_HOME:-}" ] && echo "JAVA_HOME=$JAVA_HOME is older than $CUBATCH_MIN_JDK or not a JDK."
      echo "Fix: install a JDK 25 (for example Debian/Ubuntu: apt-get install temurin-25-jdk from Adoptium's"
      echo "repository, or SDKMAN: sdk install java 25-tem) or point JAVA_HOME at one, then run this again."
    } >&2
    return 1
  fi
  export JAVA_HOME=$best
}

# Maven's bundled Guava calls sun.misc.Unsafe, which JDK 24+ warns about on every build; allow it
# quietly there (the flag does not exist before JDK 23, so only add it where it is understood).
cubatch_maven_opts() {
  local version
  version=$(cubatch_jdk_version "$JAVA_HOME")
  if [ -n "$version" ] && [ "$version" -ge 24 ]; then
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  fi
}

cubatch_require_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "cubatch: Apache Maven (mvn, 3.8 or newer) is needed to build; install it (apt-get install maven) and run this again." >&2
    return 1
  fi
}
