package io.cubatch.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * The native (off-heap) memory an allocation may take here, checked before allocating: a size this machine
 * cannot hold is an {@link InsufficientMemoryException} naming the bytes needed, the bytes available and the
 * fix, not an {@code OutOfMemoryError} or the kernel's OOM killer halfway through zeroing the memory (arenas
 * zero what they allocate, so every page is touched).
 *
 * <p>Available is the smallest of: Linux's {@code MemAvailable} (free memory plus what the kernel can reclaim),
 * and the room left under this process's cgroup memory limit (v2 {@code memory.max - memory.current}, v1
 * {@code memory.limit_in_bytes - memory.usage_in_bytes}). The system property
 * {@code cubatch.memory.available} (bytes) replaces that figure, for machines where it is wrong (swap,
 * overcommit by design). Where none of these can be read, nothing is refused. Requests below
 * {@link #CHECK_ABOVE} are not checked: they cost less than reading the figures.
 */
public final class NativeMemory {
    /** Requests of fewer bytes than this (64 MiB) are not checked. */
    public static final long CHECK_ABOVE = 64L << 20;

    /** Overrides the detected available bytes. */
    public static final String AVAILABLE_PROPERTY = "cubatch.memory.available";

    private NativeMemory() {
    }

    /**
     * Native memory available to this process now, in bytes; empty when it cannot be known.
     *
     * @return the smallest of the figures above in bytes, the property's value when set, or empty
     * @throws IllegalArgumentException when {@value #AVAILABLE_PROPERTY} is set to something other than an integer
     */
    public static OptionalLong available() {
        String override = System.getProperty(AVAILABLE_PROPERTY);
        if (override != null) {
            try {
                return OptionalLong.of(Long.parseLong(override.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-D" + AVAILABLE_PROPERTY + "=" + override
                        + " is not a number of bytes: give an integer such as 17179869184 (16 GiB), or leave it unset");
            }
        }
        long best = Long.MAX_VALUE;
        best = Math.min(best, memAvailable());
        best = Math.min(best, cgroupRoom());
        return best == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(best);
    }

    /**
     * Checks that {@code bytes} of native memory can be allocated here.
     *
     * @param what what needs the memory, with its sizes ("a padded batch [3, 1000000000000] int32 ...")
     * @param fix  what to change so that it fits
     * @param bytes the bytes the allocation needs; below {@link #CHECK_ABOVE} nothing is checked
     * @throws InsufficientMemoryException naming the bytes needed and available, and the fix
     */
    public static void require(long bytes, Supplier<String> what, String fix) {
        if (bytes < CHECK_ABOVE) {
            return;
        }
        OptionalLong available = available();
        if (available.isPresent()) {
            require(bytes, available.getAsLong(), what, fix);
        }
    }

    /**
     * {@link #require(long, Supplier, String)} against a given number of available bytes.
     *
     * @param bytes the bytes the allocation needs
     * @param available the bytes available
     * @param what what needs the memory, called only to build the message
     * @param fix what to change so that it fits
     * @throws InsufficientMemoryException when {@code bytes > available}
     */
    public static void require(long bytes, long available, Supplier<String> what, String fix) {
        if (bytes > available) {
            throw new InsufficientMemoryException(what.get() + " needs " + bytes + " bytes (" + human(bytes)
                    + ") of native memory, more than the " + available + " bytes (" + human(available)
                    + ") available here: " + fix, bytes, available);
        }
    }

    /**
     * {@code bytes} in binary units, for messages: "7.5 GiB".
     *
     * @param bytes a byte count, at least 0
     * @return the count with one decimal in KiB to EiB, or in bytes below 1 KiB
     */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** MemAvailable of /proc/meminfo in bytes, or Long.MAX_VALUE. */
    private static long memAvailable() {
        for (String line : lines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemAvailable:")) {
                String[] f = line.substring("MemAvailable:".length()).trim().split("\\s+");
                long kb = parse(f[0]);
                return kb == Long.MAX_VALUE ? kb : kb * 1024;
            }
        }
        return Long.MAX_VALUE;
    }

    /** Room under this process's cgroup memory limit, or Long.MAX_VALUE when there is none. */
    private static long cgroupRoom() {
        long room = Long.MAX_VALUE;
        for (String line : lines(Path.of("/proc/self/cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length < 3) {
                continue;
            }
            if (f[0].equals("0") && f[1].isEmpty()) {
                Path dir = Path.of("/sys/fs/cgroup" + f[2]);
                room = Math.min(room, room(dir.resolve("memory.max"), dir.resolve("memory.current")));
                room = Math.min(room, room(Path.of("/sys/fs/cgroup/memory.max"), Path.of("/sys/fs/cgroup/memory.current")));
            } else if (List.of(f[1].split(",")).contains("memory")) {
                for (Path dir : new Path[] {Path.of("/sys/fs/cgroup/memory" + f[2]), Path.of("/sys/fs/cgroup/memory")}) {
                    room = Math.min(room, room(dir.resolve("memory.limit_in_bytes"), dir.resolve("memory.usage_in_bytes")));
                }
            }
        }
        return room;
    }

    private static long room(Path limitFile, Path usageFile) {
        List<String> limit = lines(limitFile);
        List<String> usage = lines(usageFile);
        if (limit.isEmpty() || usage.isEmpty()) {
            return Long.MAX_VALUE;
        }
        long l = parse(limit.get(0).trim());
        long u = parse(usage.get(0).trim());
        if (l == Long.MAX_VALUE || u == Long.MAX_VALUE || l >= (1L << 60)) {
            return Long.MAX_VALUE; // "max", or v1's "unlimited" (a page-rounded 2^63 - 1)
        }
        return Math.max(0, l - u);
    }

    private static long parse(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
