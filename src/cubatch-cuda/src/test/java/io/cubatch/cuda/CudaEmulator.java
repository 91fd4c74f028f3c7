package io.cubatch.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The CUDA driver emulator (cuda/emu), seen from the tests: whether the process runs on it (its
 * {@code cudaEmuCounters} symbol exists only there), its counters, and its fault injection. The surefire
 * executions that run the gpu and emu groups load it through LD_LIBRARY_PATH and set the system property
 * {@code cubatch.emulator=required}.
 */
public final class CudaEmulator {
    private CudaEmulator() {
    }

    /** The counters, in cuda_emu_api.h's order. */
    public record Counters(long violations, long deviceAllocations, long pinnedBlocks, long streams, long events,
                           long contextCreations, long destroyedWithContext, long launches, long h2dBytes,
                           long d2hBytes, long modules) {
        /** Device allocations, pinned blocks, streams and events alive now. */
        public long liveResources() {
            return deviceAllocations + pinnedBlocks + streams + events;
        }
    }

    private static final Optional<MethodHandle[]> HANDLES = find();

    private static Optional<MethodHandle[]> find() {
        try {
            if (!Cuda.availability().available()) {
                return Optional.empty();
            }
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            Optional<MemorySegment> counters = lib.find("cudaEmuCounters");
            Optional<MemorySegment> fail = lib.find("cudaEmuFail");
            if (counters.isEmpty() || fail.isEmpty()) {
                return Optional.empty();
            }
            Linker l = Linker.nativeLinker();
            return Optional.of(new MethodHandle[] {
                l.downcallHandle(counters.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT)),
                l.downcallHandle(fail.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT))});
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Whether this JVM's CUDA driver is the emulator. */
    public static boolean present() {
        return HANDLES.isPresent();
    }

    /** Whether the build asked for the emulator ({@code -Dcubatch.emulator=required}). */
    public static boolean required() {
        return "required".equals(System.getProperty("cubatch.emulator"));
    }

    public static Counters counters() {
        MethodHandle h = HANDLES.orElseThrow(() -> new IllegalStateException("not running on the CUDA emulator"))[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG, 11);
            int n = (int) h.invokeExact(out, 11);
            if (n != 11) {
                throw new IllegalStateException("cudaEmuCounters wrote " + n + " counters, expected 11");
            }
            long[] c = out.toArray(ValueLayout.JAVA_LONG);
            return new Counters(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /**
     * Asserts that since {@code before} there was no driver violation, every device allocation, pinned block,
     * stream and event made was freed, and no context was destroyed still owning resources.
     */
    public static void assertCleanSince(Counters before) {
        Counters after = counters();
        org.junit.jupiter.api.Assertions.assertEquals(before.violations(), after.violations(),
                "CUDA driver violations (see the cuda-emu: lines on stderr)");
        org.junit.jupiter.api.Assertions.assertEquals(before.liveResources(), after.liveResources(),
                "device allocations, pinned blocks, streams and events left alive: before " + before + ", after " + after);
        org.junit.jupiter.api.Assertions.assertEquals(before.destroyedWithContext(), after.destroyedWithContext(),
                "resources a context still owned when it was destroyed");
    }

    /** Makes the {@code n}-th call of {@code call} from now fail with {@code code} (0: the emulator's default). */
    public static void fail(String call, int n, int code) {
        MethodHandle h = HANDLES.orElseThrow(() -> new IllegalStateException("not running on the CUDA emulator"))[1];
        try (Arena a = Arena.ofConfined()) {
            int r = (int) h.invokeExact(a.allocateFrom(call), n, code);
            if (r != 0) {
                throw new IllegalStateException("cudaEmuFail returned " + r);
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Clears a pending {@link #fail}. */
    public static void clearFailure(String call) {
        fail(call, 0, 0);
    }
}
