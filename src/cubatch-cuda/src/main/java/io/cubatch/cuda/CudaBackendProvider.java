package io.cubatch.cuda;

import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.Collator;
import java.util.Optional;

/**
 * The {@code cuda} backend: batches padded on a GPU. {@link #open()} gives a {@link CudaCollator} on device 0,
 * {@link #open(int)} on another.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** For {@link java.util.ServiceLoader}; {@link io.cubatch.collate.Backends} lists the backends. */
    public CudaBackendProvider() {
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Memory memory() {
        return Memory.DEVICE;
    }

    @Override
    public int preference() {
        return 0;
    }

    @Override
    public Optional<String> unavailableReason() {
        Cuda.Availability a = Cuda.availability();
        return a.available() ? Optional.empty() : Optional.of(a.reason());
    }

    @Override
    public Collator open() {
        return CudaCollator.open(0);
    }

    @Override
    public int devices() {
        return Cuda.availability().devices().size();
    }

    @Override
    public Collator open(int device) {
        return CudaCollator.open(device);
    }
}
