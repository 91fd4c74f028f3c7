package io.cubatch.collate.internal;

import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.Collator;
import java.util.Optional;

/** The {@code java} backend: pure Java over {@code MemorySegment}, available everywhere, the test oracle. */
public final class JavaBackendProvider implements BackendProvider {
    /** For {@link java.util.ServiceLoader}. */
    public JavaBackendProvider() {
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public Memory memory() {
        return Memory.HOST;
    }

    @Override
    public int preference() {
        return 20;
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    @Override
    public Collator open() {
        return new JavaCollator();
    }
}
