package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class BackendsTest {

    @Test
    void javaIsAlwaysAvailableAndCudaSaysWhyNot() {
        Backends.Backend java = Backends.all().stream().filter(b -> b.name().equals("java")).findFirst().orElseThrow();
        assertTrue(java.available());
        Backends.Backend cuda = Backends.all().stream().filter(b -> b.name().equals("cuda")).findFirst().orElseThrow();
        assertEquals(io.cubatch.cuda.Cuda.availability().available(), cuda.available());
        IllegalArgumentException e;
        if (!cuda.available()) {
            assertFalse(cuda.reason().isBlank());
            e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda"));
            assertEquals("backend cuda is unavailable: " + cuda.reason(), e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu"));
        assertTrue(e.getMessage().contains("choose cuda, native or java"), e.getMessage());
    }

    /** The build compiles libcubatch on Linux; there, the native backend must load (not silently skip). */
    @Test
    void nativeLoadsWhereTheBuildPackagedIt() {
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> System.getProperty("os.arch");
        };
        boolean packaged = BackendsTest.class.getResource("/io/cubatch/native/linux-" + arch + "/libcubatch.so") != null;
        Backends.Backend nat = Backends.all().stream().filter(b -> b.name().equals("native")).findFirst().orElseThrow();
        assertEquals(packaged, nat.available(), nat.reason());
        if (System.getProperty("os.name").startsWith("Linux")) {
            assertTrue(packaged, "the Maven build should have packaged libcubatch.so for this platform");
            assertEquals("native", Backends.bestName());
        }
    }

    @Test
    void nativeCollatorsOpenAndCloseInALoopAndRefuseUseAfterClose() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2}, {3}}); Arena arena = Arena.ofConfined()) {
            Padding p = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            PaddedBatch out = PaddedBatch.allocate(Collation.shape(s, new long[] {0, 1}, p), arena);
            Collator last = null;
            for (int i = 0; i < 10_000; i++) {
                Collator c = Backends.create("native");
                c.pad(s, new long[] {0, 1}, p, out);
                c.close();
                c.close();
                last = c;
            }
            assertArrayEquals(new int[] {1, 2, 3, 0}, out.data().toArray(ValueLayout.JAVA_INT));
            Collator closed = last;
            assertThrows(IllegalStateException.class, () -> closed.pad(s, new long[] {0, 1}, p, out));
        }
    }

    @Test
    void everyCollatorOpensAndClosesInALoopAndRefusesUseAfterClose() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2}, {3}}); Arena arena = Arena.ofConfined()) {
            Padding p = Padding.builder().side(PadSide.PRE).value(9).dtype(DType.INT32).build();
            PaddedBatch out = PaddedBatch.allocate(Collation.shape(s, new long[] {1, 0}, p), arena);
            for (String name : CollateTestSupport.availableBackends()) {
                for (int i = 0; i < 2_000; i++) {
                    Collator c = Backends.create(name);
                    c.pad(s, new long[] {1, 0}, p, out);
                    c.close();
                    assertThrows(IllegalStateException.class, () -> c.pad(s, new long[] {1, 0}, p, out), name);
                }
                assertArrayEquals(new int[] {9, 3, 1, 2}, out.data().toArray(ValueLayout.JAVA_INT), name);
            }
        }
    }

    @Test
    void nativeRefusesHeapSegmentsWithTheReason() {
        MemorySegment heap = MemorySegment.ofArray(new int[] {1, 2, 3});
        MemorySegment offsets = MemorySegment.ofArray(new long[] {0, 3});
        SampleStore s = SampleStore.wrapRagged(DType.INT32, new long[0], heap, offsets);
        try (Collator c = Backends.create("native"); Arena arena = Arena.ofConfined()) {
            Padding p = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            PaddedBatch out = PaddedBatch.allocate(c.shape(s, new long[] {0}, p), arena);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.pad(s, new long[] {0}, p, out));
            assertTrue(e.getMessage().contains("Java heap"), e.getMessage());
        }
    }

    @Test
    void badIndicesAndTooLongSequencesAreNamed() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {4}})) {
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name)) {
                    Padding p = Padding.builder().side(PadSide.POST).maxlen(2).dtype(DType.INT32).build();
                    IndexOutOfBoundsException ioobe = assertThrows(IndexOutOfBoundsException.class,
                            () -> c.shape(s, new long[] {0, 2}, p));
                    assertTrue(ioobe.getMessage().contains("batch row 1 asks for sample 2, outside [0, 2)"));
                    CollateException tooLong = assertThrows(CollateException.class, () -> c.shape(s, new long[] {1, 0}, p));
                    assertTrue(tooLong.getMessage().contains("sample 0 (batch row 1) has 3 timesteps, more than maxlen 2"),
                            tooLong.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> c.shape(s, new long[0], p));
                }
            }
        }
    }

    @Test
    void valueThatDoesNotFitNamesSampleTimestepAndValue() {
        try (SampleStore s = SampleStore.of(new long[][] {{1, 2}, {3, 300, 5}})) {
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name); Arena arena = Arena.ofConfined()) {
                    Padding p = Padding.builder().side(PadSide.PRE).dtype(DType.INT8).build();
                    PaddedBatch out = PaddedBatch.allocate(c.shape(s, new long[] {0, 1}, p), arena);
                    CollateException e = assertThrows(CollateException.class, () -> c.pad(s, new long[] {0, 1}, p, out));
                    assertEquals("sample 1 (batch row 1), timestep 1: value 300 does not fit int8 (integers in [-128, 127]):"
                            + " choose a wider --dtype, or fix the data", e.getMessage(), name);
                }
            }
        }
    }

    @Test
    void stackCollatesFixedSamplesOnEveryBackend() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2}, {3, 4}, {5, 6}})) {
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name); Arena arena = Arena.ofConfined()) {
                    MemorySegment out = arena.allocate(4 * 8);
                    IllegalArgumentException ragged = assertThrows(IllegalArgumentException.class,
                            () -> c.stack(s, new long[] {2, 0}, DType.INT64, out));
                    assertTrue(ragged.getMessage().contains("ragged"));
                }
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 2, 3, 4, 5, 300);
            SampleStore s = SampleStore.wrapFixed(DType.INT32, 3, 2, new long[0], values);
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name)) {
                    MemorySegment out = arena.allocate(4 * 8);
                    c.stack(s, new long[] {1, 0}, DType.INT64, out);
                    assertArrayEquals(new long[] {3, 4, 1, 2}, out.toArray(ValueLayout.JAVA_LONG), name);
                    MemorySegment bytes = arena.allocate(4);
                    CollateException e = assertThrows(CollateException.class, () -> c.stack(s, new long[] {0, 2}, DType.INT8, bytes));
                    assertTrue(e.getMessage().startsWith("sample 2 (batch row 1), element 1: value 300 does not fit int8"),
                            e.getMessage());
                }
            }
        }
    }
}
