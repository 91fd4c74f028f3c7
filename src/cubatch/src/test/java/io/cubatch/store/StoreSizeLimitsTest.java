package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sizes a file can claim are checked before anything is allocated (issue 14, items 12 and 13): a line
 * longer than the limit is refused before it is read whole, a shape whose size does not fit 63 bits is a
 * {@link DatasetFormatException}, and an allocation larger than the memory available is refused with the
 * bytes needed and available.
 */
class StoreSizeLimitsTest {
    @TempDir
    Path dir;

    /** A 3 GB line (a sparse file: '[' then zeros) is refused once the limit is read, without an OutOfMemoryError. */
    @Test
    void aThreeGigabyteLineIsRefusedAtTheLimit() throws IOException {
        Path f = dir.resolve("huge-line.jsonl");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.write("[1, 2]\n[".getBytes(StandardCharsets.US_ASCII));
            raf.setLength(3_000_000_000L);
        }
        long start = System.nanoTime();
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> JsonlReader.open(f).close());
        assertEquals("line 2", e.where(), e.getMessage());
        assertTrue(e.getMessage().contains("a line longer than " + JsonlReader.MAX_LINE_BYTES + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("JsonlReader.MAX_LINE_BYTES"), e.getMessage());
        assertTrue(System.nanoTime() - start < 60_000_000_000L, "refused after reading the limit, not the 3 GB");
    }

    /** A line of exactly the limit is read; one byte more is refused, wherever the limit falls. */
    @Property(tries = 200)
    void linesUpToTheLimitAreReadLongerOnesRefused(@ForAll @IntRange(min = 0, max = 300) int tokens,
                                                    @ForAll @IntRange(min = 3, max = 2000) int limit,
                                                    @ForAll boolean crlf) throws IOException {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < tokens; i++) {
            b.append(i == 0 ? "" : ", ").append(i * 7919L % 100_003);
        }
        String line = b.append(']').toString();
        Path f = Files.createTempFile("cubatch-limit", ".jsonl"); // jqwik does not fill @TempDir
        Files.writeString(f, "[1]\n" + line + (crlf ? "\r\n" : "\n"));
        try {
            int bytes = line.length() + (crlf ? 1 : 0); // the '\r' counts: it is part of the line until its end
            if (bytes <= limit) {
                try (SampleStore s = JsonlReader.open(f, limit)) {
                    assertEquals(tokens, s.length(1));
                }
            } else {
                DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> JsonlReader.open(f, limit).close());
                assertEquals("line 2", e.where(), e.getMessage());
                assertTrue(e.getMessage().contains("a line longer than " + limit + " bytes"), e.getMessage());
            }
        } finally {
            Files.delete(f);
        }
    }

    /** Leading NUL bytes are refused, not read as UTF-16 ("[\0]\0" is "[]" in UTF-16LE). */
    @Test
    void nulBytesAreRefusedNotDecodedAsUtf16() throws IOException {
        for (byte[] line : List.of(new byte[] {'[', 0, ']', 0}, new byte[] {0, '[', 0, ']'}, new byte[] {'[', '1', 0, ']'})) {
            Path f = Files.createTempFile(dir, "nul", ".jsonl");
            Files.write(f, line);
            DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> JsonlReader.open(f).close(),
                    Arrays.toString(line));
            assertTrue(e.getMessage().contains("a NUL byte"), e.getMessage());
        }
    }

    /** Numbers up to the limit are read; longer ones are named with their length, line and column. */
    @Property(tries = 100)
    void numbersPastTheLimitAreNamed(@ForAll @IntRange(min = 1, max = 600) int digits, @ForAll boolean asFloat)
            throws IOException {
        String number = asFloat ? "0." + "3".repeat(digits) : "1" + "0".repeat(digits - 1);
        Path f = Files.createTempFile("cubatch-number", ".jsonl");
        Files.writeString(f, "[1]\n[2, " + number + "]\n");
        try {
            boolean tooLong = number.length() > JsonlReader.MAX_NUMBER_CHARS;
            boolean pastInt64 = !asFloat && digits > 19;
            if (!tooLong && !pastInt64) {
                try (SampleStore s = JsonlReader.open(f)) {
                    assertEquals(2, s.length(1));
                }
            } else {
                DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> JsonlReader.open(f).close());
                if (tooLong) {
                    assertEquals("line 2, column 5", e.where());
                    assertTrue(e.getMessage().contains("a number of " + number.length() + " characters ("
                            + number.substring(0, 40) + "...)"), e.getMessage());
                    assertTrue(e.getMessage().contains("expected a number of at most 400 characters"), e.getMessage());
                } else {
                    assertEquals("line 2", e.where());
                    assertTrue(e.getMessage().contains("the integer " + number), e.getMessage());
                }
            }
        } finally {
            Files.delete(f);
        }
    }

    /** Any shape: the header is accepted with its exact size, or refused as a DatasetFormatException. */
    @Property(tries = 2000)
    void npyShapesAreSizedExactlyOrRefused(@ForAll("shapes") List<Long> dims, @ForAll("npyDtypes") DType dtype) {
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        byte[] header = NpyWriter.header(dtype, shape);
        BigInteger nonZero = BigInteger.valueOf(dtype.byteSize());
        boolean empty = false;
        for (long d : shape) {
            if (d == 0) {
                empty = true;
            } else {
                nonZero = nonZero.multiply(BigInteger.valueOf(d));
            }
        }
        boolean fits = nonZero.bitLength() < 64;
        long dataBytes = empty ? 0 : fits ? nonZero.longValueExact() : -1;
        // a file that holds the data only when the shape is empty or tiny: the header is what is tested
        byte[] file = Arrays.copyOf(header, header.length + (int) Math.max(0, Math.min(dataBytes, 64)));
        MemorySegment bytes = MemorySegment.ofArray(file);
        Path p = Path.of("shape.npy");
        if (fits && dataBytes <= 64 && shape.length > 0) {
            try (SampleStore s = NpyReader.read(p, bytes, null)) {
                assertEquals(shape[0], s.size());
                assertEquals(dataBytes, s.size() == 0 ? 0 : s.totalTimesteps() * s.features() * dtype.byteSize());
            } catch (DatasetFormatException e) {
                throw new AssertionError("refused a valid header: " + e.getMessage(), e);
            }
        } else {
            DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> NpyReader.read(p, bytes, null));
            if (!fits) {
                assertTrue(e.getMessage().contains("overflows 64 bits"), e.getMessage());
            }
        }
    }

    @Provide
    Arbitrary<List<Long>> shapes() {
        Arbitrary<Long> dim = Arbitraries.oneOf(Arbitraries.longs().between(0, 4),
                Arbitraries.of(0L, 1L, 2L, 3L, 1L << 31, (1L << 31) - 1, 1L << 32, 1L << 62, (1L << 62) + 1,
                        Long.MAX_VALUE, Long.MAX_VALUE / 2, Long.MAX_VALUE / 3, 3_037_000_500L),
                Arbitraries.longs().between(0, Long.MAX_VALUE));
        return dim.list().ofMinSize(0).ofMaxSize(5);
    }

    @Provide
    Arbitrary<DType> npyDtypes() {
        return Arbitraries.of(Arrays.stream(DType.values()).filter(t -> t != DType.BFLOAT16).toList());
    }

    /** The check refuses exactly the requests above what is available, naming both numbers and the fix. */
    @Property(tries = 500)
    void memoryRequestsAboveWhatIsAvailableAreRefused(@ForAll @LongRange(min = 0) long bytes,
                                                      @ForAll @LongRange(min = 0) long available) {
        if (bytes <= available) {
            NativeMemory.require(bytes, available, () -> "x", "fix");
            return;
        }
        InsufficientMemoryException e = assertThrows(InsufficientMemoryException.class,
                () -> NativeMemory.require(bytes, available, () -> "a padded batch", "lower maxlen"));
        assertEquals(bytes, e.needed());
        assertEquals(available, e.available());
        assertTrue(e.getMessage().startsWith("a padded batch needs " + bytes + " bytes ("), e.getMessage());
        assertTrue(e.getMessage().contains("more than the " + available + " bytes ("), e.getMessage());
        assertTrue(e.getMessage().endsWith("available here: lower maxlen"), e.getMessage());
    }

    /** A JSONL store that cannot fit the memory available is refused after the scan, before its arena exists. */
    @Test
    void jsonlStoresLargerThanTheMemoryAvailableAreRefused() throws IOException {
        Path f = dir.resolve("many.jsonl");
        String line = "[" + "0,".repeat(1 << 20) + "0]\n";
        Files.writeString(f, line.repeat(8)); // 8 x (2^20 + 1) int64 values: 64 MiB + offsets, above CHECK_ABOVE
        String old = System.getProperty(NativeMemory.AVAILABLE_PROPERTY);
        System.setProperty(NativeMemory.AVAILABLE_PROPERTY, "1000000");
        try {
            InsufficientMemoryException e = assertThrows(InsufficientMemoryException.class, () -> JsonlReader.open(f).close());
            long needed = 8L * (8 * ((1 << 20) + 1)) + 8 * 9;
            assertEquals(needed, e.needed());
            assertTrue(e.getMessage().startsWith("reading " + f + " (8 samples, " + 8 * ((1 << 20) + 1)
                    + " values as 8-byte int64, plus offsets) needs " + needed + " bytes (64.0 MiB) of native memory,"
                    + " more than the 1000000 bytes (976.6 KiB) available here: split the file"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(NativeMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(NativeMemory.AVAILABLE_PROPERTY, old);
            }
        }
    }

    @Test
    void humanSizes() {
        assertEquals("1023 B", NativeMemory.human(1023));
        assertEquals("1.0 KiB", NativeMemory.human(1024));
        assertEquals("7.5 GiB", NativeMemory.human(8_053_063_680L));
        assertEquals("8.0 EiB", NativeMemory.human(Long.MAX_VALUE));
        assertTrue(NativeMemory.available().isEmpty() || NativeMemory.available().getAsLong() > 0);
    }

    @Property(tries = 50)
    void overrideMustBeANumber(@ForAll @Size(min = 1, max = 5) @net.jqwik.api.constraints.AlphaChars String junk) {
        String old = System.getProperty(NativeMemory.AVAILABLE_PROPERTY);
        System.setProperty(NativeMemory.AVAILABLE_PROPERTY, junk);
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, NativeMemory::available);
            assertTrue(e.getMessage().contains("-D" + NativeMemory.AVAILABLE_PROPERTY + "=" + junk), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(NativeMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(NativeMemory.AVAILABLE_PROPERTY, old);
            }
        }
    }

    /** The fuzzers' seeds near the limits (make_fuzz_seeds.py) are valid files: the edge is on their valid side. */
    @Test
    void fuzzSeedsNearTheLimitsAreValidFiles() throws Exception {
        Path inputs = Path.of(StoreSizeLimitsTest.class.getResource("/io/cubatch/store/ReaderFuzzTestInputs").toURI());
        int seeds = 0;
        for (String target : new String[] {"npy", "jsonl", "megatron"}) {
            try (var files = Files.list(inputs.resolve(target))) {
                for (Path f : files.filter(f -> f.getFileName().toString().startsWith("seed_")).toList()) {
                    seeds++;
                    if (target.equals("megatron")) {
                        byte[] in = Files.readAllBytes(f);
                        int split = ((in[0] & 0xff) << 8) | (in[1] & 0xff);
                        MemorySegment all = MemorySegment.ofArray(Arrays.copyOfRange(in, 4, in.length));
                        try (SampleStore s = MegatronReader.read(f, all.asSlice(0, split), f, all.asSlice(split),
                                java.lang.foreign.Arena.ofConfined())) {
                            assertTrue(s.size() > 0, f.toString());
                        }
                    } else {
                        try (SampleStore s = target.equals("npy") ? NpyReader.open(f) : JsonlReader.open(f)) {
                            assertTrue(s.size() >= 0, f.toString());
                        }
                    }
                }
            }
        }
        assertEquals(13, seeds);
    }

    /** Caller segments that claim more than 2^63 bytes are an IllegalArgumentException naming the size. */
    @Test
    void wrappedSizesPast2To63BytesAreNamed() {
        MemorySegment values = MemorySegment.ofArray(new byte[16]);
        MemorySegment offsets = MemorySegment.ofArray(new long[] {0, 1L << 62});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SampleStore.wrapRagged(DType.INT32, new long[0], values, offsets));
        assertEquals("insufficient capacity: values of 1 x 4611686018427387904 timesteps of features [] int32 need more"
                + " than 2^63 bytes", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> SampleStore.wrapFixed(DType.INT8, 1L << 40, 1L << 40, new long[0], values));
        assertTrue(e.getMessage().contains("need more than 2^63 bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SampleStore.wrapRagged(DType.INT8,
                new long[] {1L << 62, 4}, values, MemorySegment.ofArray(new long[] {0, 1})));
        assertTrue(e.getMessage().contains("need more than 2^63 bytes"), e.getMessage());
    }
}
