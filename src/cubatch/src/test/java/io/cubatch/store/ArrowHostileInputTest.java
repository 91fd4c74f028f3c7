package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Arrow files cubatch must read (large_list, which Arrow JS cannot write; every element type) and files it
 * must refuse: compressed bodies by codec, and every truncation and every corrupted byte of valid files, which
 * may only ever give a store that reads and pads safely or a {@link DatasetFormatException}.
 */
class ArrowHostileInputTest {
    private static final long[][] BATCH_0 = {{1, 2, 3}, {}, {Long.MAX_VALUE, Long.MIN_VALUE}};
    private static final long[][] BATCH_1 = {{}, {42}};
    private static final long[][] BATCH_2 = {{7, 8, 9, 10, 11}};

    @TempDir
    Path dir;

    static byte[] tokens(boolean large, DType dtype, boolean file) {
        return ArrowTestFiles.write(ArrowTestFiles.Spec.of("input_ids", large, dtype, file),
                List.of(BATCH_0, BATCH_1, BATCH_2));
    }

    private static SampleStore read(byte[] bytes, ArrowReader.Options o, Arena arena) throws DatasetFormatException {
        return ArrowReader.read(Path.of("t.arrow"), FuzzPad.nativeCopy(bytes, arena), null, o);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void largeListOfInt64InSeveralBatchesReadsInPlace(boolean file) throws Exception {
        Path p = dir.resolve("large.arrow");
        Files.write(p, tokens(true, DType.INT64, file));
        try (SampleStore s = Datasets.open(p)) {
            assertEquals(DType.INT64, s.dtype());
            assertEquals(6, s.size());
            assertFalse(s.isContiguous());
            assertEquals(3, s.chunks());
            assertArrayEquals(new long[] {1, 2, 3}, s.sample(0).toArray(ValueLayout.JAVA_LONG));
            assertEquals(0, s.length(1));
            assertArrayEquals(new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, s.sample(2).toArray(ValueLayout.JAVA_LONG));
            assertEquals(0, s.length(3));
            assertArrayEquals(new long[] {42}, s.sample(4).toArray(ValueLayout.JAVA_LONG));
            assertArrayEquals(new long[] {7, 8, 9, 10, 11}, s.sample(5).toArray(ValueLayout.JAVA_LONG));
            assertTrue(s.toString().contains("ragged in 3 chunks"), s.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"INT8", "UINT8", "INT16", "UINT16", "INT32", "INT64", "FLOAT32", "FLOAT64"})
    void everyElementTypeOfTheStore(DType t) throws Exception {
        long[][] rows = {{1, 2}, {3}};
        byte[] bytes = ArrowTestFiles.write(ArrowTestFiles.Spec.of("x", false, t, false), List.of(rows, rows));
        try (Arena arena = Arena.ofConfined(); SampleStore s = read(bytes, ArrowReader.Options.DEFAULT, arena)) {
            assertEquals(t, s.dtype());
            assertEquals(4, s.size());
            assertEquals(2, s.length(2));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void compressedBodiesAreRefusedByCodec(int codec) {
        byte[] bytes = ArrowTestFiles.write(new ArrowTestFiles.Spec("input_ids", false, DType.INT32, false, codec),
                List.<long[][]>of(new long[][] {{1}}));
        try (Arena arena = Arena.ofConfined()) {
            DatasetFormatException e = assertThrows(DatasetFormatException.class,
                    () -> read(bytes, ArrowReader.Options.DEFAULT, arena));
            assertTrue(e.getMessage().contains("a body compressed with " + (codec == 0 ? "LZ4_FRAME" : "ZSTD")),
                    e.getMessage());
            assertTrue(e.getMessage().contains("record batch 0"), e.getMessage());
        }
    }

    @Test
    void namedHostileFields() {
        byte[] good = tokens(false, DType.INT32, false);
        // metadata length past the end, negative, or over the limit
        for (int length : new int[] {0x7fffffff, -2, ArrowReader.MAX_METADATA + 8}) {
            byte[] b = good.clone();
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, length);
            assertRefused(b, "byte 4", "metadata length " + length);
        }
        // the file magic without the rest of a file
        byte[] magicOnly = Arrays.copyOf("ARROW1\0\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 30);
        assertRefused(magicOnly, "byte 24", "no trailing \"ARROW1\" magic");
        // a footer length that points before the start
        byte[] file = tokens(false, DType.INT32, true);
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(file.length - 10, file.length);
        assertRefused(file, "byte " + (file.length - 10), "footer length " + file.length);
        // offsets beyond the values: the last offset of batch 0 (3 + 0 + 2 = 5 values) set to 1000
        byte[] b = good.clone();
        int at = indexOf(b, new int[] {0, 3, 3, 5});
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 12, 1000);
        assertRefused(b, "record batch 0 (byte ", "offsets from 0 to 1000");
        // decreasing offsets
        b = good.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 4, 4);
        assertRefused(b, "record batch 0 (byte ", "offsets[2] = 3 after offsets[1] = 4");
        // a negative first offset
        b = good.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, -1);
        assertRefused(b, "record batch 0 (byte ", "offsets from -1");
    }

    private static int indexOf(byte[] b, int[] ints) {
        ByteBuffer want = ByteBuffer.allocate(4 * ints.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i : ints) {
            want.putInt(i);
        }
        byte[] w = want.array();
        for (int i = 0; i + w.length <= b.length; i++) {
            if (Arrays.equals(b, i, i + w.length, w, 0, w.length)) {
                return i;
            }
        }
        throw new AssertionError("pattern not found");
    }

    private static void assertRefused(byte[] bytes, String where, String found) {
        try (Arena arena = Arena.ofConfined()) {
            DatasetFormatException e = assertThrows(DatasetFormatException.class,
                    () -> read(bytes, ArrowReader.Options.DEFAULT, arena).close());
            assertTrue(e.where().startsWith(where), e.where() + " / " + e.getMessage());
            assertTrue(e.getMessage().contains(found), e.getMessage());
            assertTrue(e.getMessage().contains("expected"), e.getMessage());
        }
    }

    /** Every prefix of a valid file and stream: a store of the batches it still holds whole, or a refusal. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void everyTruncationIsAStoreOrARefusal(boolean large) {
        for (boolean file : new boolean[] {false, true}) {
            byte[] good = tokens(large, large ? DType.INT64 : DType.INT32, file);
            for (int n = 0; n < good.length; n++) {
                readSafely(Arrays.copyOf(good, n), "prefix of " + n + " bytes");
            }
        }
    }

    /** Every byte of a valid file and stream set to 0x00, 0xFF, 0x80 and its value + 1. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void everyCorruptedByteIsAStoreOrARefusal(boolean file) {
        byte[] good = tokens(false, DType.INT32, file);
        for (int i = 0; i < good.length; i++) {
            for (int v : new int[] {0, 0xff, 0x80, good[i] + 1}) {
                byte[] b = good.clone();
                b[i] = (byte) v;
                readSafely(b, "byte " + i + " = " + v);
            }
        }
    }

    private static void readSafely(byte[] bytes, String what) {
        try (Arena arena = Arena.ofConfined()) {
            for (ArrowReader.Options o : new ArrowReader.Options[] {ArrowReader.Options.DEFAULT,
                    new ArrowReader.Options("input_ids", true)}) {
                try (SampleStore s = read(bytes, o, arena)) {
                    for (long i = 0; i < s.size(); i++) {
                        MemorySegment m = s.sample(i);
                        if (m.byteSize() > 0) {
                            m.get(ValueLayout.JAVA_BYTE, 0);
                            m.get(ValueLayout.JAVA_BYTE, m.byteSize() - 1);
                        }
                    }
                    FuzzPad.padHostile(s, FuzzPad.Choices.seededBy(bytes), 1);
                } catch (DatasetFormatException expected) {
                    assertTrue(expected.getMessage().contains("expected"), what + ": " + expected.getMessage());
                } catch (RuntimeException e) {
                    fail(what + ": " + e, e);
                }
            }
        }
    }
}
