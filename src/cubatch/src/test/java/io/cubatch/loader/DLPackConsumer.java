package io.cubatch.loader;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The C DLPack consumer of native/test/dlpack_consumer.c ({@code src/cubatch/target/native-build/libdlpack_consumer.so},
 * built by {@code make test} in native/, which the Maven build runs before the tests), called through FFM.
 */
final class DLPackConsumer {
    static final Path LIBRARY = Path.of(System.getProperty("cubatch.root", "../.."),
            "src/cubatch/target/native-build/libdlpack_consumer.so");
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LOOKUP = lookup();
    static final MethodHandle CHECK = LINKER.downcallHandle(LOOKUP.find("cb_dlpack_check").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    static final MethodHandle DELETE = LINKER.downcallHandle(LOOKUP.find("cb_dlpack_delete").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    static final MethodHandle LAYOUT = LINKER.downcallHandle(LOOKUP.find("cb_dlpack_layout").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private DLPackConsumer() {
    }

    private static SymbolLookup lookup() {
        if (!Files.isRegularFile(LIBRARY)) {
            throw new IllegalStateException(LIBRARY.toAbsolutePath() + " is missing: it is built by `make -C native test`"
                    + " (mvn process-test-classes, or ./test)");
        }
        return SymbolLookup.libraryLookup(LIBRARY, Arena.global());
    }

    /** What the consumer must find. {@code data}: the bytes a host tensor holds, or null (device tensors). */
    record Expect(int deviceType, int deviceId, int code, int bits, long flags, long[] shape, MemorySegment data) {
    }

    /** Runs the C checks and, when they pass, the deleter (on a new native thread when asked); null when all pass. */
    static String check(MemorySegment tensor, Expect e, boolean deleterThread) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment shape = arena.allocateFrom(ValueLayout.JAVA_LONG, e.shape().length == 0 ? new long[1] : e.shape());
            MemorySegment data = MemorySegment.NULL;
            long bytes = 0;
            if (e.data() != null) {
                data = arena.allocate(Math.max(1, e.data().byteSize()));
                MemorySegment.copy(e.data(), 0, data, 0, e.data().byteSize());
                bytes = e.data().byteSize();
            }
            MemorySegment msg = arena.allocate(512);
            int rc = (int) CHECK.invokeExact(tensor, e.deviceType(), e.deviceId(), e.shape().length, e.code(), e.bits(), 1,
                    e.flags(), shape, data, bytes, deleterThread ? 1 : 0, msg, 512);
            return rc == 0 ? null : msg.getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static void delete(MemorySegment tensor) {
        try {
            DELETE.invokeExact(tensor);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** sizeof/offsetof as the C compiler lays out the ABI (dlpack_abi.h). */
    static long[] layout() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(8 * 12, 8);
            LAYOUT.invokeExact(out);
            return out.toArray(ValueLayout.JAVA_LONG);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
