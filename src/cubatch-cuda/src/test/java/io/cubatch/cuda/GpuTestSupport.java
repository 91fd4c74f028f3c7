package io.cubatch.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For every GPU test: before it, a GPU must be usable, or the test is skipped with the reason; under the
 * build's emulated executions ({@code cubatch.emulator=required}) a missing GPU fails instead, since the
 * emulator must be there. After it, on the emulator: no new violation, and every device allocation, pinned
 * block, stream and event the test made has been freed (the count is back where it was).
 */
public final class GpuTestSupport implements BeforeEachCallback, AfterEachCallback {
    /** For {@code @ExtendWith}. */
    public GpuTestSupport() {
    }

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(GpuTestSupport.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        Cuda.Availability a = Cuda.availability();
        if (CudaEmulator.required() && Cuda.kernelsPackaged()) {
            if (!a.available() || !CudaEmulator.present()) {
                throw new AssertionError("the CUDA driver emulator must be loaded here (LD_LIBRARY_PATH=target/cuda-emu)"
                        + " but " + (a.available() ? "the driver is not the emulator" : a.reason()));
            }
        }
        Assumptions.assumeTrue(a.available(), () -> "no usable GPU: " + a.reason());
        if (CudaEmulator.present()) {
            context.getStore(NS).put("before", CudaEmulator.counters());
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        CudaEmulator.Counters before = context.getStore(NS).get("before", CudaEmulator.Counters.class);
        if (before == null) {
            return;
        }
        CudaEmulator.assertCleanSince(before);
    }
}
