package io.cubatch.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * The GPU architectures the packaged fatbin has code for, as the build recorded them
 * ({@code cubatch-fatbin.properties}, written by {@code cuda/Makefile} next to {@code cubatch.fatbin}): SASS
 * (machine code) for every architecture the build's nvcc supports from sm_75 up, and PTX of the newest, which
 * the driver compiles for a GPU newer than all of them. {@link #match} says whether, and how, a device of a
 * given compute capability runs the kernels.
 *
 * @param sass the SASS architectures, as compute capability times ten (75, 80, 86, ...), ascending
 * @param ptx  the PTX architecture, as compute capability times ten (e.g. 121)
 * @param nvcc the nvcc that built them (its version line)
 */
public record KernelArchitectures(List<Integer> sass, int ptx, String nvcc) {
    /** The resource the build writes the list to. */
    public static final String RESOURCE = "/io/cubatch/cuda/cubatch-fatbin.properties";

    /**
     * The list, with the SASS architectures sorted.
     *
     * @param sass the SASS architectures, compute capability times ten
     * @param ptx  the PTX architecture, compute capability times ten
     * @param nvcc the nvcc that built them
     */
    public KernelArchitectures {
        if (sass.isEmpty()) {
            throw new IllegalArgumentException("a fatbin without SASS: " + RESOURCE + " lists none");
        }
        sass = sass.stream().sorted().distinct().toList();
    }

    /**
     * How a device runs the kernels.
     *
     * @param runs whether it can
     * @param how  the code it runs ("SASS sm_90", "JIT from PTX compute_121 ...") or why it cannot
     */
    public record Match(boolean runs, String how) {
    }

    /**
     * The list packaged with the kernels.
     *
     * @return the list, or empty when the jar has no fatbin or the build recorded none
     */
    public static Optional<KernelArchitectures> packaged() {
        try (InputStream in = KernelArchitectures.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return Optional.empty();
            }
            Properties p = new Properties();
            p.load(in);
            return Optional.of(parse(p));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Reads the build's list: {@code sass=sm_75 sm_80 ...}, {@code ptx=compute_121}, {@code nvcc=...}. */
    static KernelArchitectures parse(Properties p) {
        List<Integer> sass = new ArrayList<>();
        for (String a : p.getProperty("sass", "").trim().split("\\s+")) {
            if (!a.isEmpty()) {
                sass.add(number(a, "sm_"));
            }
        }
        return new KernelArchitectures(sass, number(p.getProperty("ptx", "").trim(), "compute_"),
                p.getProperty("nvcc", "").trim());
    }

    private static int number(String arch, String prefix) {
        if (!arch.startsWith(prefix) || !arch.substring(prefix.length()).matches("[0-9]{2,3}")) {
            throw new IllegalArgumentException("not a " + prefix + "NN architecture: '" + arch + "'");
        }
        return Integer.parseInt(arch.substring(prefix.length()));
    }

    /**
     * One line for {@code cubatch info}.
     *
     * @return e.g. {@code SASS sm_75, sm_80, sm_90; PTX compute_90 (nvcc: Build cuda_13.0...)}
     */
    public String describe() {
        return "SASS " + sass.stream().map(a -> "sm_" + a).collect(Collectors.joining(", ")) + "; PTX compute_" + ptx
                + (nvcc.isEmpty() ? "" : " (nvcc: " + nvcc + ")");
    }

    /**
     * Whether a device of compute capability {@code major.minor} runs the kernels, and from which code: its own
     * SASS; SASS of an older minor version of the same major (binary compatible); PTX, JIT-compiled by the
     * driver, when the device is newer than the PTX; or not at all (older than every SASS, or newer than the
     * SASS of its major and older than the PTX).
     *
     * @param major compute capability, major
     * @param minor compute capability, minor
     * @return the verdict with the reason
     */
    public Match match(int major, int minor) {
        int cc = major * 10 + minor;
        String device = "compute capability " + major + "." + minor;
        if (sass.contains(cc)) {
            return new Match(true, "SASS sm_" + cc);
        }
        Optional<Integer> compatible = sass.stream().filter(a -> a / 10 == major && a <= cc).reduce((a, b) -> b);
        if (compatible.isPresent()) {
            return new Match(true, "SASS sm_" + compatible.get() + " (binary compatible with " + device + ")");
        }
        if (cc > ptx) {
            return new Match(true, "JIT from PTX compute_" + ptx + ": no SASS for " + device + ", so the driver compiles"
                    + " the kernels when they are first loaded (seconds, cached by the driver); it must be recent enough"
                    + " for the PTX of " + (nvcc.isEmpty() ? "the nvcc that built them" : nvcc));
        }
        if (cc < sass.getFirst()) {
            return new Match(false, device + " is older than " + sass.getFirst() / 10 + "." + sass.getFirst() % 10
                    + ", the oldest GPU the kernels are built for (sm_" + sass.getFirst() + "): cubatch's cuda backend"
                    + " needs a Turing (T4, RTX 20xx) or newer GPU; the native backend runs on the CPU instead");
        }
        return new Match(false, "no SASS for " + device + " (the kernels have " + describe() + ") and its PTX is"
                + " newer than this GPU: rebuild cuda/ with an nvcc that supports sm_" + cc);
    }
}
