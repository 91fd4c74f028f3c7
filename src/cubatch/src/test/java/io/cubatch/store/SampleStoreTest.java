package io.cubatch.store;

import static io.cubatch.store.Fixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SampleStoreTest {

    @Test
    void buildsRaggedStoresFromJavaArrays() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {}, {4}})) {
            assertEquals(DType.INT32, s.dtype());
            assertEquals(3, s.size());
            assertTrue(s.isRagged());
            assertEquals(0, s.length(1));
            assertEquals(3, s.offset(2));
            assertEquals(4, s.sample(2).get(ValueLayout.JAVA_INT, 0));
        }
        try (SampleStore s = SampleStore.of(new float[][][] {{{1, 2}, {3, 4}}, {{5, 6}}})) {
            assertEquals(DType.FLOAT32, s.dtype());
            assertArrayEquals(new long[] {2}, s.featureShape());
            assertEquals(6f, s.sample(1).getAtIndex(ValueLayout.JAVA_FLOAT, 1));
        }
        try (SampleStore s = SampleStore.of(new short[][] {{-1}})) {
            assertEquals(DType.INT16, s.dtype());
        }
        try (SampleStore s = SampleStore.of(new byte[][] {{-1}}); SampleStore l = SampleStore.of(new long[][] {{-1}});
             SampleStore d = SampleStore.of(new double[][] {{-1}})) {
            assertEquals(DType.INT8, s.dtype());
            assertEquals(DType.INT64, l.dtype());
            assertEquals(DType.FLOAT64, d.dtype());
        }
    }

    @Test
    void raggedFeatureWidthIsRejectedNamingTheSample() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SampleStore.of(new int[][][] {{{1, 2}}, {{3, 4}, {5}}}));
        assertTrue(e.getMessage().contains("sample 1 timestep 1 has 1 features, expected 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SampleStore.of(new int[][] {{1}, null}));
    }

    @Test
    void wrapsCallerSegmentsWithoutCopyingOrFreeing() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 2, 3, 4, 5);
            MemorySegment offsets = arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 2, 5);
            SampleStore s = SampleStore.wrapRagged(DType.INT32, new long[0], values, offsets);
            assertEquals(2, s.size());
            assertEquals(3, s.length(1));
            assertEquals(values.address(), s.values().address());
            s.close();
            assertTrue(values.scope().isAlive(), "closing a wrapping store leaves the caller's memory alone");
            assertThrows(IllegalStateException.class, () -> s.length(0));
            SampleStore fixed = SampleStore.wrapFixed(DType.INT32, 2, 2, new long[0], values);
            assertEquals(2, fixed.sample(1).get(ValueLayout.JAVA_INT, 0) - 1);
        }
    }

    @Test
    void wrapValidatesOffsetsAndSizes() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 2, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SampleStore.wrapRagged(
                    DType.INT32, new long[0], values, arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 2, 1)));
            assertTrue(e.getMessage().contains("offsets[1]=2 > offsets[2]=1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SampleStore.wrapRagged(
                    DType.INT32, new long[0], values, arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2)));
            assertTrue(e.getMessage().contains("offsets[0] must be 0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SampleStore.wrapRagged(
                    DType.INT32, new long[0], values, arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 4)));
            assertTrue(e.getMessage().contains("insufficient capacity"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> SampleStore.wrapFixed(DType.INT32, 2, 2, new long[0], values));
        }
    }

    @Test
    void useAfterCloseThrowsIllegalStateNotACrash() throws IOException {
        SampleStore s = Datasets.open(fixture("arange_int32.npy"));
        MemorySegment values = s.values();
        s.close();
        s.close(); // idempotent
        assertTrue(s.isClosed());
        assertFalse(values.scope().isAlive(), "the mapping is released");
        assertThrows(IllegalStateException.class, () -> values.get(ValueLayout.JAVA_INT, 0));
        assertThrows(IllegalStateException.class, s::values);
        assertThrows(IllegalStateException.class, () -> s.sample(0));
        assertThrows(IllegalStateException.class, s::size);
    }

    @Test
    void outOfRangeSampleThrows() {
        try (SampleStore s = SampleStore.of(new int[][] {{1}})) {
            assertThrows(IndexOutOfBoundsException.class, () -> s.length(1));
            assertThrows(IndexOutOfBoundsException.class, () -> s.sample(-1));
        }
    }

    /** 10 000 open/close cycles of each mapped format leave no mapping and no live memory behind. */
    @Test
    void openCloseCyclesLeaveNothingBehind() throws IOException {
        Path[] files = {fixture("arange_int32.npy"), fixture("tiny.idx")};
        long before = mappingsOf(files);
        for (int i = 0; i < 10_000; i++) {
            SampleStore s = Datasets.open(files[i % 2]);
            MemorySegment v = s.values();
            assertEquals(4, s.size());
            s.close();
            assertFalse(v.scope().isAlive());
        }
        assertEquals(before, mappingsOf(files), "mappings of the dataset files left in /proc/self/maps");
        for (int i = 0; i < 10_000; i++) {
            SampleStore s = SampleStore.of(new int[][] {{i, i + 1}, {i}});
            MemorySegment v = s.values();
            s.close();
            assertFalse(v.scope().isAlive(), "off-heap copy freed");
        }
    }

    /** Lines of /proc/self/maps naming one of the files; -1 where there is no /proc (not Linux). */
    private static long mappingsOf(Path... files) throws IOException {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return -1;
        }
        return Files.readAllLines(maps).stream().filter(l -> {
            for (Path f : files) {
                if (l.endsWith(f.toAbsolutePath().toString())) {
                    return true;
                }
            }
            return false;
        }).count();
    }
}
