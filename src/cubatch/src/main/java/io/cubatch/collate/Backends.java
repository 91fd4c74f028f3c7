package io.cubatch.collate;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * The collation backends: the {@link BackendProvider}s on the class path (found once with
 * {@link ServiceLoader}), which of them can run here, why the others cannot, and a new collator by name.
 */
public final class Backends {
    private Backends() {
    }

    /**
     * A backend and whether it can run here.
     *
     * @param name      {@code java}, {@code native}, {@code cuda}, or a plugin's name
     * @param available true when {@link #create(String)} succeeds
     * @param reason    why it is unavailable; empty when available
     * @param memory    where its batches live
     */
    public record Backend(String name, boolean available, String reason, BackendProvider.Memory memory) {
    }

    private static final class Providers {
        static final List<BackendProvider> ALL = load();

        private static List<BackendProvider> load() {
            List<BackendProvider> out = new ArrayList<>();
            for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
                if (out.stream().anyMatch(q -> q.name().equals(p.name()))) {
                    throw new IllegalStateException("two backend providers are named " + p.name() + ": "
                            + p.getClass().getName() + " and another one on the class path");
                }
                out.add(p);
            }
            // device backends first, then host backends by preference (the order info and errors list them in)
            out.sort(Comparator.comparing((BackendProvider p) -> p.memory() != BackendProvider.Memory.DEVICE)
                    .thenComparingInt(BackendProvider::preference).thenComparing(BackendProvider::name));
            return List.copyOf(out);
        }
    }

    /**
     * The providers on the class path: device backends first, then host backends, preferred first.
     *
     * @return the providers, an immutable list
     */
    public static List<BackendProvider> providers() {
        return Providers.ALL;
    }

    /**
     * Every backend with its availability, in {@link #providers()} order.
     *
     * @return a new immutable list of backends
     */
    public static List<Backend> all() {
        List<Backend> out = new ArrayList<>();
        for (BackendProvider p : providers()) {
            String reason = p.unavailableReason().orElse("");
            out.add(new Backend(p.name(), reason.isEmpty(), reason, p.memory()));
        }
        return List.copyOf(out);
    }

    /**
     * The fastest available backend for batches in host memory ({@link Collator#pad} into caller buffers):
     * the available {@link BackendProvider.Memory#HOST} backend preferred first ({@code native}, else
     * {@code java}). Never a device backend: its {@code pad} goes to the GPU and back (two PCIe copies).
     *
     * @return the name, {@code native} or {@code java}
     * @throws IllegalStateException when no host backend is available, listing them all
     */
    public static String bestName() {
        return all().stream().filter(b -> b.available() && b.memory() == BackendProvider.Memory.HOST).findFirst()
                .orElseThrow(() -> new IllegalStateException("no host backend is available: " + all())).name();
    }

    /**
     * A new collator of {@link #bestName()}; the caller closes it.
     *
     * @return the collator
     * @throws IllegalStateException when no host backend is available
     */
    public static Collator best() {
        return create(bestName());
    }

    /**
     * A new collator of the named backend; the caller closes it.
     *
     * @param name the backend's name, in any case
     * @return the collator
     * @throws IllegalArgumentException for an unknown name (listing the known ones), or a backend unavailable
     *                                  here (with the reason)
     */
    public static Collator create(String name) {
        return create(name, -1);
    }

    /**
     * A new collator of the named backend on {@code device} (-1: the host backends, or a device backend's
     * device 0); the caller closes it.
     *
     * @param name the backend's name, in any case
     * @param device the device, in {@code [0, devices())} of the provider, or -1
     * @return the collator
     * @throws IllegalArgumentException for an unknown or unavailable backend, or a device it does not have
     */
    public static Collator create(String name, int device) {
        String n = name.toLowerCase(Locale.ROOT);
        BackendProvider p = providers().stream().filter(x -> x.name().equals(n)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown backend '" + name + "': choose " + names()));
        String reason = p.unavailableReason().orElse("");
        if (!reason.isEmpty()) {
            throw new IllegalArgumentException("backend " + n + " is unavailable: " + reason);
        }
        return device == -1 ? p.open() : p.open(device);
    }

    private static String names() {
        List<String> names = providers().stream().map(BackendProvider::name).toList();
        if (names.size() < 2) {
            return String.join("", names);
        }
        return String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
    }
}
