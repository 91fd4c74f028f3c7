package io.cubatch.collate;

import io.cubatch.collate.internal.JavaCollator;
import io.cubatch.collate.internal.NativeCollator;
import io.cubatch.collate.internal.NativeLibrary;
import java.util.List;
import java.util.Locale;

/** The collation backends: which exist here, why the others do not, and a new collator by name. */
public final class Backends {
    private Backends() {
    }

    /**
     * A backend and whether it can run here.
     *
     * @param name      {@code java}, {@code native} or {@code cuda}
     * @param available true when {@link #create(String)} succeeds
     * @param reason    why it is unavailable; empty when available
     */
    public record Backend(String name, boolean available, String reason) {
    }

    /** Every backend, in order of preference (fastest first). */
    public static List<Backend> all() {
        String nativeReason = NativeLibrary.unavailableReason();
        return List.of(
                new Backend("cuda", false, "not implemented in this version: the CUDA backend (JCuda) is the next"
                        + " step; the kernels are compiled into the jar but no Java code drives them yet"),
                new Backend("native", nativeReason.isEmpty(), nativeReason),
                new Backend("java", true, ""));
    }

    /** The name of the fastest available backend. */
    public static String bestName() {
        return all().stream().filter(Backend::available).findFirst().orElseThrow().name();
    }

    /** A new collator of the fastest available backend; the caller closes it. */
    public static Collator best() {
        return create(bestName());
    }

    /**
     * A new collator of the named backend; the caller closes it.
     *
     * @throws IllegalArgumentException for an unknown name, or a backend unavailable here (with the reason)
     */
    public static Collator create(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        Backend b = all().stream().filter(x -> x.name().equals(n)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown backend '" + name + "': choose java, native or cuda"));
        if (!b.available()) {
            throw new IllegalArgumentException("backend " + n + " is unavailable: " + b.reason());
        }
        return switch (n) {
            case "native" -> new NativeCollator(NativeLibrary.get().orElseThrow());
            case "java" -> new JavaCollator();
            default -> throw new IllegalStateException("backend " + n + " is listed as available but has no collator");
        };
    }
}
