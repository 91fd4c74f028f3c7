# ptxas_check.awk: fails the build when a kernel has a stack frame or spills. Reads nvcc's `-Xptxas -v`
# output; `kernels` (-v) names every extern "C" __global__ function of cb_kernels.cu, and each must be
# reported, with 0 bytes stack frame and 0 bytes of spill stores and loads, for every sm_ target that
# ptxas compiled. Prints one line per kernel and target; exits 1 naming each offender.
/Compiling entry function/ {
    match($0, /'[^']*' for '[^']*'/)
    split(substr($0, RSTART, RLENGTH), q, "'")
    fn = q[2]; arch = q[4]; archs[arch] = 1
    next
}
/bytes stack frame/ && fn != "" {
    stack = $1; stores = $5; loads = $9
    seen[fn, arch] = 1
    if (stack + 0 != 0 || stores + 0 != 0 || loads + 0 != 0) {
        printf "ptxas check: kernel %s (%s) has %s bytes stack frame, %s bytes spill stores, %s bytes spill loads: " \
               "it must use registers only (no local arrays, no spills)\n", fn, arch, stack, stores, loads
        bad = 1
    } else {
        ok++
    }
    fn = ""
}
END {
    n = split(kernels, k, " ")
    na = 0
    for (a in archs) na++
    if (na == 0) { print "ptxas check: no ptxas report in the nvcc output (was -Xptxas -v passed?)"; exit 1 }
    for (i = 1; i <= n; i++) for (a in archs) if (!((k[i], a) in seen)) {
        printf "ptxas check: no ptxas report for kernel %s (%s)\n", k[i], a
        bad = 1
    }
    if (bad) exit 1
    printf "ptxas check: %d kernels x %d targets: 0 bytes stack frame, 0 spills\n", n, na
}
