package io.cubatch.collate.internal;

import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.Collator;
import java.util.Optional;

/** The {@code native} backend: libcubatch (the kernels' CPU twin) through {@code java.lang.foreign}. */
public final class NativeBackendProvider implements BackendProvider {
    /** For {@link java.util.ServiceLoader}. */
    public NativeBackendProvider() {
    }

    @Override
    public String name() {
        return "native";
    }

    @Override
    public Memory memory() {
        return Memory.HOST;
    }

    @Override
    public int preference() {
        return 10;
    }

    @Override
    public Optional<String> unavailableReason() {
        String reason = NativeLibrary.unavailableReason();
        return reason.isEmpty() ? Optional.empty() : Optional.of(reason);
    }

    @Override
    public Collator open() {
        return new NativeCollator(NativeLibrary.get().orElseThrow(() ->
                new IllegalStateException("libcubatch is unavailable: " + NativeLibrary.unavailableReason())));
    }
}
