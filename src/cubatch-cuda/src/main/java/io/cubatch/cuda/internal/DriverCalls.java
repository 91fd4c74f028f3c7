package io.cubatch.cuda.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver calls cubatch makes through {@code java.lang.foreign} rather than JCuda: pinned host
 * memory. JCuda's {@code cuMemHostAlloc} wraps the block in a direct ByteBuffer, which cannot exceed 2 GiB
 * (the call then fails after the driver allocated, leaking the block); here the block is a
 * {@link MemorySegment} of any size. Resolved once, on first use, from the {@code libcuda.so.1} JCuda uses
 * (the same library: the current context is shared).
 */
public final class DriverCalls {
    private DriverCalls() {
    }

    private static final class Handles {
        static final MethodHandle HOST_ALLOC;
        static final MethodHandle FREE_HOST;

        static {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            Linker linker = Linker.nativeLinker();
            HOST_ALLOC = linker.downcallHandle(find(lib, "cuMemHostAlloc"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            FREE_HOST = linker.downcallHandle(find(lib, "cuMemFreeHost"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS));
        }

        private static MemorySegment find(SymbolLookup lib, String name) {
            return lib.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libcuda.so.1 has no " + name));
        }
    }

    /**
     * {@code cuMemHostAlloc(&p, bytes, flags)}: the CUresult, and the address in {@code address[0]}. The
     * caller has made a context current and owns the block.
     */
    public static int memHostAlloc(long bytes, int flags, long[] address) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pp = a.allocate(ValueLayout.ADDRESS);
            int r = (int) Handles.HOST_ALLOC.invokeExact(pp, bytes, flags);
            address[0] = r == 0 ? pp.get(ValueLayout.ADDRESS, 0).address() : 0;
            return r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cuMemFreeHost(p)}: the CUresult. */
    public static int memFreeHost(long address) {
        try {
            return (int) Handles.FREE_HOST.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
