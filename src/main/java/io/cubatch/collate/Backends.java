package io.cubatch.collate;

import io.cubatch.collate.internal.JavaCollator;
import io.cubatch.cuda.Cuda;
import io.cubatch.cuda.CudaCollator;
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

    /** Ring slots of a cuda collator made by name: one batch in use while the next one fills. */
    public static final int CUDA_SLOTS = 2;

    /** Every backend: cuda (batches on the GPU), then the host backends fastest first. */
    public static List<Backend> all() {
        String nativeReason = NativeLibrary.unavailableReason();
        Cuda.Availability cuda = Cuda.availability();
        return List.of(
                new Backend("cuda", cuda.available(), cuda.reason()),
                new Backend("native", nativeReason.isEmpty(), nativeReason),
                new Backend("java", true, ""));
    }

    /**
     * The fastest available backend for batches in host memory ({@link Collator#pad} into caller buffers):
     * native, else java. Never cuda: its {@code pad} goes to the GPU and back (two PCIe copies), which is
     * for comparing bytes, not for speed; GPU batches come from {@link CudaCollator#padOnDevice}, or ask for
     * {@code cuda} by name.
     */
    public static String bestName() {
        return all().stream().filter(b -> b.available() && !b.name().equals("cuda")).findFirst().orElseThrow().name();
    }

    /** A new collator of {@link #bestName()}; the caller closes it. */
    public static Collator best() {
        return create(bestName());
    }

    /**
     * A new collator of the named backend; the caller closes it. {@code cuda} opens device 0 with a ring of
     * {@link #CUDA_SLOTS} slots; {@link CudaCollator#open(int, int)} chooses both.
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
            case "cuda" -> CudaCollator.open(0, CUDA_SLOTS);
            case "native" -> new NativeCollator(NativeLibrary.get().orElseThrow());
            case "java" -> new JavaCollator();
            default -> throw new IllegalStateException("backend " + n + " is listed as available but has no collator");
        };
    }
}
