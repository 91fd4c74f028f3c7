#!/usr/bin/env bash
# Builds libcubatch for the other Linux architecture than the build machine's, and runs the C tests on it
# under qemu-user. Called by the library's Maven build (src/cubatch/pom.xml); native/Makefile does the work.
#   scripts/native-cross.sh build OUT_DIR BUILD_DIR   (paths relative to native/, without spaces)
#   scripts/native-cross.sh test  OUT_DIR BUILD_DIR
# On an x86_64 machine the other architecture is aarch64 (Grace Hopper, Graviton): Debian's cross compiler
# g++-aarch64-linux-gnu, and qemu-user to run the tests. When they are missing, the script installs them with
# apt-get (as root, bounded by CUBATCH_APT_TIMEOUT seconds, default 300; CUBATCH_NO_INSTALL=1 forbids it).
# When they cannot be had, the build goes on without that library and says so: `build` writes the reason to
# OUT_DIR/../linux-ARCH-unavailable.txt (packaged, so NativeLibrary and `cubatch info` can state it) and prints
# it; `test` prints "test_cubatch-ARCH: not run: REASON". Never fails the build for a missing toolchain; a
# compile error or a failing C test does fail it.
set -euo pipefail
cd "$(dirname "$0")/../native"
action=${1:?usage: native-cross.sh build|test OUT_DIR BUILD_DIR}
out=${2:?OUT_DIR}
build=${3:?BUILD_DIR}

case "$(uname -m)" in
  x86_64 | amd64) arch=aarch64; triple=aarch64-linux-gnu; qemu=qemu-aarch64; packages="g++-aarch64-linux-gnu qemu-user" ;;
  aarch64 | arm64) arch=x86_64; triple=x86_64-linux-gnu; qemu=qemu-x86_64; packages="g++-x86-64-linux-gnu qemu-user" ;;
  *) echo "native: no cross build from $(uname -m) (cubatch packages linux-x86_64 and linux-aarch64)"; exit 0 ;;
esac
cxx=$triple-g++
sysroot=/usr/$triple
note="$out/../linux-$arch-unavailable.txt"

# Prints why the toolchain is unusable, or nothing when it is ready (installing it when allowed and possible).
missing() {
  local need=""
  command -v "$cxx" >/dev/null 2>&1 || need="$cxx"
  command -v "$qemu" >/dev/null 2>&1 || need="$need${need:+ and }$qemu"
  [ -z "$need" ] && return 0
  if [ "${CUBATCH_NO_INSTALL:-0}" = 1 ]; then
    echo "$need not installed and CUBATCH_NO_INSTALL=1 (install: apt-get install $packages)"; return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$need not installed, and this is not a Debian/Ubuntu machine where the build runs as root (install: apt-get install $packages, or your distribution's $triple cross compiler and qemu-user)"; return 0
  fi
  local limit=${CUBATCH_APT_TIMEOUT:-300} log start
  log=$(mktemp)
  start=$(date +%s)
  echo "native: installing $packages for the linux-$arch library (apt-get, at most ${limit} s) ..." >&2
  if ! { timeout "$limit" apt-get -qq -o DPkg::Lock::Timeout=60 update &&
         DEBIAN_FRONTEND=noninteractive timeout "$limit" apt-get -qq -y -o DPkg::Lock::Timeout=60 \
           install --no-install-recommends $packages; } >"$log" 2>&1; then
    echo "apt-get install $packages failed or took over ${limit} s: $(tail -n 1 "$log")"; rm -f "$log"; return 0
  fi
  rm -f "$log"
  echo "native: installed $packages in $(( $(date +%s) - start )) s" >&2
  command -v "$cxx" >/dev/null 2>&1 && command -v "$qemu" >/dev/null 2>&1 ||
    echo "apt-get installed $packages but $cxx or $qemu is still not on PATH"
}

case "$action" in
  build)
    reason=$(missing)
    mkdir -p "$(dirname "$note")"
    if [ -n "$reason" ]; then
      echo "linux-$arch library not built: $reason" > "$note"
      echo "native: linux-$arch library not built (the jar carries linux-$(uname -m | sed 's/amd64/x86_64/') only): $reason"
      exit 0
    fi
    rm -f "$note"
    make -s OUT="$out" BUILD="$build" CXX="$cxx"
    ;;
  test)
    if [ -f "$note" ]; then
      echo "test_cubatch-$arch: not run: $(cat "$note")"
      exit 0
    fi
    reason=$(missing)
    if [ -n "$reason" ]; then
      echo "test_cubatch-$arch: not run: $reason"
      exit 0
    fi
    make -s test OUT="$out" BUILD="$build" CXX="$cxx" RUN="$qemu -L $sysroot" 2>&1 | sed "s/^test_cubatch:/test_cubatch-$arch:/"
    exit "${PIPESTATUS[0]}"
    ;;
  *) echo "native-cross.sh: unknown action '$action' (build or test)" >&2; exit 2 ;;
esac
