package io.cubatch.store;

import static io.cubatch.store.Fixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Reads files written by real NumPy (src/test/resources/fixtures/make_fixtures.py). */
class NpyReaderTest {

    /** Element {@code i} of a store's values as a double, whatever its dtype. */
    static double element(SampleStore s, long i) {
        MemorySegment v = s.values();
        return switch (s.dtype()) {
            case BOOL, UINT8 -> Byte.toUnsignedInt(v.get(ValueLayout.JAVA_BYTE, i));
            case INT8 -> v.get(ValueLayout.JAVA_BYTE, i);
            case INT16 -> v.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
            case UINT16 -> Short.toUnsignedInt(v.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case INT32 -> v.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
            case INT64 -> v.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
            case FLOAT16 -> Float.float16ToFloat(v.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case FLOAT32 -> v.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case FLOAT64 -> v.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            case BFLOAT16 -> Float.intBitsToFloat(Short.toUnsignedInt(v.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i)) << 16);
        };
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = "BFLOAT16", mode = EnumSource.Mode.EXCLUDE)
    void readsEveryDtypeNumPyWrites(DType dtype) throws IOException {
        try (SampleStore s = NpyReader.open(fixture("arange_" + dtype.cliName() + ".npy"))) {
            assertEquals(dtype, s.dtype());
            assertEquals(4, s.size());
            assertFalse(s.isRagged());
            assertEquals(6, s.length(3));
            assertEquals(18, s.offset(3));
            assertEquals(24, s.totalTimesteps());
            assertEquals(1, s.features());
            for (int i = 0; i < 24; i++) {
                assertEquals(dtype == DType.BOOL ? i % 2 : i, element(s, i), dtype + " element " + i);
            }
            assertEquals(6L * dtype.byteSize(), s.sample(1).byteSize());
        }
    }

    @Test
    void readsPerTimestepFeatures() throws IOException {
        try (SampleStore s = NpyReader.open(fixture("features_f4.npy"))) {
            assertEquals(2, s.size());
            assertEquals(3, s.length(0));
            assertArrayEquals(new long[] {4}, s.featureShape());
            assertEquals(4, s.features());
            assertEquals(12f, s.sample(1).getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
        }
    }

    @Test
    void readsAOneDimensionalArrayAsSamplesOfOneTimestep() throws IOException {
        try (SampleStore s = NpyReader.open(fixture("vector_i8.npy"))) {
            assertEquals(5, s.size());
            assertEquals(1, s.length(4));
            assertEquals(4L, s.sample(4).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        }
    }

    @Test
    void readsFormatVersions2And3() throws IOException {
        for (String name : new String[] {"v2_i4.npy", "v3_i4.npy"}) {
            try (SampleStore s = NpyReader.open(fixture(name))) {
                assertEquals(DType.INT32, s.dtype());
                assertEquals(23, element(s, 23), name);
            }
        }
    }

    @Test
    void keepsNaNAndSignedZeroBitExact() throws IOException {
        try (SampleStore s = NpyReader.open(fixture("special_f4.npy"))) {
            MemorySegment v = s.values();
            assertTrue(Float.isNaN(v.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0)));
            assertEquals(0x80000000, v.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 1));
            assertEquals(Float.POSITIVE_INFINITY, v.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 2));
            assertEquals(Float.NEGATIVE_INFINITY, v.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 3));
        }
    }

    @Test
    void rejectsFortranOrderAndBigEndianFromNumPy() {
        DatasetFormatException f = assertThrows(DatasetFormatException.class,
                () -> NpyReader.open(fixture("fortran_i4.npy")));
        assertTrue(f.getMessage().contains("fortran_order"), f.getMessage());
        DatasetFormatException b = assertThrows(DatasetFormatException.class,
                () -> NpyReader.open(fixture("bigendian_i4.npy")));
        assertTrue(b.getMessage().contains("big-endian"), b.getMessage());
    }

    /** The public magic is a copy: a caller that changes it changes nothing the readers check. */
    @Test
    void thePublicMagicBytesAreCopies() throws IOException {
        NpyDescriptor.magic()[1] = 'X';
        MegatronIndexDescriptor.magic()[0] = 'X';
        assertEquals('N', NpyDescriptor.magic()[1]);
        assertEquals('M', MegatronIndexDescriptor.magic()[0]);
        try (SampleStore s = NpyReader.open(fixture("arange_int32.npy"))) {
            assertEquals(4, s.size());
        }
    }

    @Test
    void mapsWithoutCopying() throws IOException {
        try (SampleStore s = NpyReader.open(fixture("arange_int32.npy"))) {
            assertTrue(s.values().isMapped());
            assertTrue(s.values().isReadOnly());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = "BFLOAT16", mode = EnumSource.Mode.EXCLUDE)
    void writerRoundTrips(DType dtype, @TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.npy");
        try (SampleStore in = NpyReader.open(fixture("arange_" + dtype.cliName() + ".npy"))) {
            NpyWriter.write(out, dtype, new long[] {4, 6}, in.values());
            try (SampleStore back = NpyReader.open(out)) {
                assertEquals(dtype, back.dtype());
                assertEquals(4, back.size());
                assertEquals(-1, in.values().mismatch(back.values()));
            }
        }
        // byte for byte what np.save wrote for the same array: same header, padding and data
        assertArrayEquals(Files.readAllBytes(fixture("arange_" + dtype.cliName() + ".npy")), Files.readAllBytes(out));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void writerLeavesNoFileWhenTheShapeIsWrong(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("bad.npy");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(12);
            assertThrows(IllegalArgumentException.class,
                    () -> NpyWriter.write(out, DType.INT32, new long[] {2, 2}, data));
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void writerHeaderIsWhatNumPyWrites() throws IOException {
        byte[] ours = NpyWriter.header(DType.INT32, new long[] {4, 6});
        byte[] numpys = Files.readAllBytes(fixture("arange_int32.npy"));
        assertArrayEquals(java.util.Arrays.copyOf(numpys, ours.length), ours);
    }

    /** More than 2^31 elements and 2^32 bytes, in a sparse file: 64-bit indexing end to end. */
    @Test
    void indexesPast2To31Elements(@TempDir Path dir) throws IOException {
        long rows = 3;
        long cols = 1L << 30; // 3 * 2^30 int16 values = 6 GiB, sparse on disk
        Path file = dir.resolve("huge.npy");
        byte[] header = NpyWriter.header(DType.INT16, new long[] {rows, cols});
        long lastElement = rows * cols - 1;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(header);
            raf.setLength(header.length + rows * cols * 2);
            raf.seek(header.length + lastElement * 2);
            raf.write(new byte[] {0x34, 0x12});
        }
        try (SampleStore s = NpyReader.open(file)) {
            assertEquals(rows, s.size());
            assertEquals(rows * cols, s.totalTimesteps());
            assertTrue(s.totalTimesteps() > Integer.MAX_VALUE);
            MemorySegment last = s.sample(2);
            assertEquals(cols * 2, last.byteSize());
            assertEquals((short) 0x1234, last.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, cols - 1));
            assertEquals((short) 0x1234, s.values().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, lastElement));
            assertEquals(0, last.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
        }
    }
}
