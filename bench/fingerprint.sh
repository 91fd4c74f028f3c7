# shellcheck shell=bash
# Sourced by bench/gpu-bundle.sh and bench/gpu-check.sh: one fingerprint of the sources a GPU bundle is
# built from, so the check can tell a carried gpu-bundle.tar.gz that no longer matches the checkout.
# It needs no git (the GPU machines may have none): find + sha256sum over the files, in one sorted order.
# The file list has to be the one the GPU machine receives, i.e. git's tracked and untracked-not-ignored
# files; git is not there to ask, so the prunes below mirror .gitignore (gpu-bundle.sh compares this
# list with git's and refuses to build when they differ, e.g. after .gitignore grows a rule).

CUBATCH_FINGERPRINT_PATHS=(src cuda native bench/src bench/pom.xml pom.xml)

# Prints, NUL-terminated and byte-sorted, the fingerprinted files under $1, relative to it.
cubatch_fingerprint_files() {
  local root=$1 p paths=()
  for p in "${CUBATCH_FINGERPRINT_PATHS[@]}"; do
    [ -e "$root/$p" ] && paths+=("$p")
  done
  [ ${#paths[@]} -gt 0 ] || return 0
  # .gitignore: target/, .idea/, .cifuzz-corpus/ (folders), .jqwik-database, *.class, *.iml
  (cd "$root" && find "${paths[@]}" \
      \( -type d \( -name target -o -name .idea -o -name .cifuzz-corpus \) -o -name .jqwik-database \) -prune \
      -o -type f ! -name '*.class' ! -name '*.iml' -print0) | LC_ALL=C sort -z
}

# Prints the sha256 over "sha256  path" of every fingerprinted file under $1: contents and names both count.
cubatch_fingerprint() {
  local root=$1
  cubatch_fingerprint_files "$root" | (cd "$root" && xargs -0 -r sha256sum --) | sha256sum | cut -d' ' -f1
}
