package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.InsufficientMemoryException;
import io.cubatch.store.NativeMemory;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Batch sizes are computed and checked before anything is allocated (issue 14, items 3 and 13): a row
 * longer than int32 lengths and positions can count is refused naming the sample, a batch of more than
 * 2^63 bytes is refused naming its shape, and a batch larger than the native memory available is refused
 * naming the bytes needed and available. Long sequences live in sparse files, so nothing here allocates
 * or writes gigabytes.
 */
@Tag("backends")
@net.jqwik.api.Tag("backends")
class PaddedSizeTest {
    /** 2^40 bytes of zeros, sparse on disk: values for stores whose sequences are as long as a test likes. */
    private static final long HUGE = 1L << 40;
    private static Arena mappings;
    private static MemorySegment zeros;

    @BeforeAll
    @BeforeContainer
    static void mapSparseValues() throws IOException {
        if (mappings != null) {
            return;
        }
        Path f = Files.createTempFile("cubatch-sparse", ".bin");
        try {
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(HUGE);
                raf.seek((1L << 31) + 9);   // the last 4 timesteps of sample 1 of the store below
                raf.write(new byte[] {1, 2, 3, 4});
            }
            mappings = Arena.ofShared();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                zeros = ch.map(FileChannel.MapMode.READ_ONLY, 0, HUGE, mappings);
            }
        } finally {
            Files.delete(f); // the mapping keeps the pages; the name goes now
        }
    }

    @AfterAll
    @AfterContainer
    static void unmap() {
        if (mappings != null) {
            mappings.close();
            mappings = null;
        }
    }

    private static SampleStore store(long... lengths) {
        long[] offsets = new long[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) {
            offsets[i + 1] = offsets[i] + lengths[i];
        }
        return SampleStore.wrapRagged(DType.INT8, new long[0], zeros, mappings.allocateFrom(ValueLayout.JAVA_LONG, offsets));
    }

    private static Padding.Builder post() {
        return Padding.builder().side(PadSide.POST).dtype(DType.INT32);
    }

    /** A sequence of 2^31 or more timesteps would wrap lengths and positions: refused, on every backend. */
    @Test
    void rowsLongerThanInt32CountsAreRefusedOnEveryBackend() {
        SampleStore s = store(3, (1L << 31) + 10, Integer.MAX_VALUE);
        for (String name : CollateTestSupport.availableBackends()) {
            try (Collator c = Backends.create(name)) {
                for (Padding p : List.of(post().build(), post().positions(true).build(),
                        post().maxlen(1L << 32).build(), post().maxlen(1L << 32).truncation(PadSide.PRE).build())) {
                    CollateException e = assertThrows(CollateException.class, () -> c.shape(s, new long[] {0, 1}, p), name);
                    assertEquals("sample 1 (batch row 1) has 2147483658 timesteps, more than 2147483647, the longest"
                            + " row int32 lengths and position_ids can count: set maxlen to at most 2147483647 with a"
                            + " truncation side (CLI --maxlen L --truncating pre|post)", e.getMessage(), name);
                }
                // 2^31 - 1 is the longest row: sized (not allocated: 10 GB)
                PaddedShape longest = c.shape(s, new long[] {2, 0}, post().positions(true).build());
                assertEquals(Integer.MAX_VALUE, longest.length());
                assertEquals(Integer.MAX_VALUE, c.shape(s, new long[] {1},
                        post().maxlen(Integer.MAX_VALUE).truncation(PadSide.POST).build()).length());
                // truncated to a short row, the long sequence pads: its tail, from past 2^31 timesteps
                Padding tail = post().maxlen(4).truncation(PadSide.PRE).positions(true).build();
                try (Arena arena = Arena.ofConfined()) {
                    PaddedBatch out = PaddedBatch.allocate(c.shape(s, new long[] {1, 0}, tail), arena);
                    c.pad(s, new long[] {1, 0}, tail, out);
                    assertArrayEquals(new int[] {1, 2, 3, 4, 0, 0, 0, 0}, out.data().toArray(ValueLayout.JAVA_INT), name);
                    assertArrayEquals(new int[] {4, 3}, out.lengths().toArray(ValueLayout.JAVA_INT), name);
                    assertArrayEquals(new int[] {0, 1, 2, 3, 0, 1, 2, 0}, out.positions().toArray(ValueLayout.JAVA_INT), name);
                }
            }
        }
    }

    /** --maxlen 2000000000 and 1000000000000: sized, then refused before allocation, naming the bytes. */
    @Test
    void batchesLargerThanTheMemoryAvailableAreRefusedBeforeAllocation() {
        SampleStore s = store(3, 1, 2);
        long[] all = {0, 1, 2};
        try (Arena arena = Arena.ofConfined()) {
            // 15 TB: more than any machine this runs on has
            PaddedShape tera = Collation.shape(s, all, post().maxlen(1_000_000_000_000L).build());
            InsufficientMemoryException e = assertThrows(InsufficientMemoryException.class,
                    () -> PaddedBatch.allocate(tera, arena));
            assertEquals(15_000_000_000_012L, e.needed());
            assertTrue(e.getMessage().startsWith("a padded batch [3, 1000000000000] int32 (data 12000000000000 bytes,"
                    + " lengths 12, attention_mask 3000000000000) needs 15000000000012 bytes (13.6 TiB) of native memory,"
                    + " more than the "), e.getMessage());
            assertTrue(e.getMessage().endsWith(" available here: lower maxlen (CLI --maxlen; unset, it is the batch's"
                    + " longest sequence), pad fewer samples at once, or choose a narrower dtype"), e.getMessage());
            // 30 GB: refused where 16 GiB are available
            PaddedShape giga = Collation.shape(s, all, post().maxlen(2_000_000_000L).build());
            withAvailable(16L << 30, () -> {
                InsufficientMemoryException g = assertThrows(InsufficientMemoryException.class,
                        () -> PaddedBatch.allocate(giga, arena));
                assertEquals(30_000_000_012L, g.needed());
                assertEquals(16L << 30, g.available());
                assertTrue(g.getMessage().contains("more than the 17179869184 bytes (16.0 GiB) available here"),
                        g.getMessage());
            });
        }
    }

    /** --maxlen 9223372036854775807: the batch would have more than 2^63 bytes, named without an ArithmeticException. */
    @Test
    void batchesPast2To63BytesAreRefusedNamingTheShape() {
        SampleStore s = store(3, 1);
        CollateException e = assertThrows(CollateException.class,
                () -> Collation.shape(s, new long[] {0, 1}, post().maxlen(Long.MAX_VALUE).build()));
        assertEquals("a padded batch of [2, 9223372036854775807] int32 has more than 2^63 bytes: lower maxlen (CLI"
                + " --maxlen; unset, it is the batch's longest sequence, 3 timesteps here), or pad fewer samples at once",
                e.getMessage());
        e = assertThrows(CollateException.class, () -> Collation.shape(s, new long[] {0},
                post().maxlen(Long.MAX_VALUE - 1).padToMultipleOf(8).build()));
        assertEquals("maxlen 9223372036854775806 rounded up to a multiple of 8 overflows 64 bits: choose a smaller maxlen",
                e.getMessage());
    }

    /** A shape made directly (the loader sizes its slots so) past 2^63 bytes is named by allocate and the constructor. */
    @Test
    void shapesMadeDirectlyPast2To63BytesAreNamed() {
        PaddedShape huge = new PaddedShape(32, Long.MAX_VALUE, 1, Long.MAX_VALUE, DType.INT32, false);
        try (Arena arena = Arena.ofConfined()) {
            CollateException e = assertThrows(CollateException.class, () -> PaddedBatch.allocate(huge, arena));
            assertEquals("a padded batch of [32, 9223372036854775807] int32 has more than 2^63 bytes: lower maxlen (CLI"
                    + " --maxlen), or the batch size", e.getMessage());
            assertThrows(CollateException.class, () -> new PaddedBatch(huge, MemorySegment.NULL, MemorySegment.NULL,
                    MemorySegment.NULL, MemorySegment.NULL));
        }
    }

    /** Stacking more than 2^63 bytes is refused by name, not an ArithmeticException. */
    @Test
    void stacksPast2To63BytesAreRefusedNamingTheSize() {
        SampleStore s = SampleStore.wrapFixed(DType.INT8, 1, HUGE, new long[0], zeros);
        long[] indices = new long[(1 << 20) + 1]; // 2^20 + 1 rows of 2^40 int64 elements: past 2^63 bytes
        for (String name : CollateTestSupport.availableBackends()) {
            try (Collator c = Backends.create(name)) {
                CollateException e = assertThrows(CollateException.class,
                        () -> c.stack(s, indices, DType.INT64, MemorySegment.NULL), name);
                assertEquals("stacking 1048577 samples of 1099511627776 elements as int64 needs more than 2^63 bytes:"
                        + " stack fewer samples at once", e.getMessage(), name);
            }
        }
    }

    /**
     * Any batch of any lengths and paddings: sized exactly (BigInteger arithmetic agrees, and the kept row
     * fits int32), or refused with a CollateException saying which limit; never an ArithmeticException.
     * Where the memory available (drawn here) cannot hold the batch, allocation is refused first.
     */
    @Property(tries = 3000)
    void everyBatchIsSizedExactlyOrRefusedByName(@ForAll("lengths") List<Long> lengths, @ForAll("maxlens") long maxlen,
                                                 @ForAll("multiples") int multiple, @ForAll boolean truncate,
                                                 @ForAll boolean positions, @ForAll("dtypes") DType dtype,
                                                 @ForAll("available") long available) {
        SampleStore s = store(lengths.stream().mapToLong(Long::longValue).toArray());
        long[] indices = java.util.stream.LongStream.range(0, lengths.size()).toArray();
        Padding.Builder b = Padding.builder().side(PadSide.PRE).dtype(dtype).positions(positions);
        if (multiple > 0) {   // 0 draws "no rounding": leaving it unset (the builder refuses 0)
            b.padToMultipleOf(multiple);
        }
        if (maxlen > 0) {
            b.maxlen(maxlen);
        }
        if (truncate) {
            b.truncation(PadSide.POST);
        }
        Padding p = b.build();
        long longest = lengths.stream().mapToLong(Long::longValue).max().orElseThrow();
        long limit = maxlen > 0 ? maxlen : longest;
        BigInteger length = BigInteger.valueOf(limit);
        if (multiple > 0 && limit % multiple != 0) {
            length = length.add(BigInteger.valueOf(multiple - limit % multiple));
        }
        BigInteger rows = BigInteger.valueOf(lengths.size());
        BigInteger cells = rows.multiply(length);
        BigInteger total = cells.multiply(BigInteger.valueOf(dtype.byteSize())).add(rows.multiply(BigInteger.valueOf(4)))
                .add(cells).add(positions ? cells.multiply(BigInteger.valueOf(4)) : BigInteger.ZERO);
        PaddedShape shape;
        try {
            shape = Collation.shape(s, indices, p);
        } catch (CollateException e) {
            String m = e.getMessage();
            String why = longest > limit && !truncate ? "longer than maxlen"
                    : Math.min(longest, limit) > Integer.MAX_VALUE ? "longer than int32"
                    : length.bitLength() >= 64 ? "length overflows" : "bytes overflow";
            Statistics.collect("refused: " + why);
            switch (why) {
                case "longer than maxlen" -> assertTrue(m.contains("more than maxlen " + limit), m);
                case "longer than int32" -> assertTrue(m.contains("more than 2147483647, the longest row int32"), m);
                case "length overflows" -> assertTrue(m.contains("rounded up to a multiple of " + multiple + " overflows"), m);
                default -> {
                    assertTrue(total.bitLength() >= 64, "refused a batch of " + total + " bytes: " + m);
                    assertTrue(m.contains("has more than 2^63 bytes"), m);
                }
            }
            return;
        }
        assertTrue(longest <= limit || truncate);
        assertTrue(Math.min(longest, limit) <= Integer.MAX_VALUE, "a row longer than int32 lengths count was sized");
        assertEquals(length, BigInteger.valueOf(shape.length()));
        assertEquals(total, BigInteger.valueOf(shape.totalBytes()));
        if (shape.totalBytes() >= NativeMemory.CHECK_ABOVE && shape.totalBytes() > available) {
            Statistics.collect("sized, refused by memory");
            withAvailable(available, () -> {
                try (Arena arena = Arena.ofConfined()) {
                    InsufficientMemoryException e = assertThrows(InsufficientMemoryException.class,
                            () -> PaddedBatch.allocate(shape, arena));
                    assertEquals(shape.totalBytes(), e.needed());
                }
            });
        } else {
            Statistics.collect(shape.totalBytes() < 1 << 20 ? "sized, small" : "sized, fits");
        }
    }

    @Provide
    Arbitrary<List<Long>> lengths() {
        return Arbitraries.oneOf(Arbitraries.longs().between(0, 20), Arbitraries.of(0L, 1L, Integer.MAX_VALUE - 1L,
                        (long) Integer.MAX_VALUE, 1L << 31, (1L << 31) + 1, 1L << 32, 1L << 35))
                .list().ofMinSize(1).ofMaxSize(6).filter(l -> l.stream().mapToLong(Long::longValue).sum() <= HUGE);
    }

    @Provide
    Arbitrary<Long> maxlens() {
        return Arbitraries.oneOf(Arbitraries.just(0L), Arbitraries.longs().between(1, 30),
                Arbitraries.of((long) Integer.MAX_VALUE, 1L << 31, 2_000_000_000L, 1_000_000_000_000L,
                        Long.MAX_VALUE / 4, Long.MAX_VALUE - 1, Long.MAX_VALUE), Arbitraries.longs().between(1, Long.MAX_VALUE));
    }

    @Provide
    Arbitrary<Integer> multiples() {
        return Arbitraries.oneOf(Arbitraries.just(0), Arbitraries.integers().between(1, 64),
                Arbitraries.of(Integer.MAX_VALUE, 1 << 30));
    }

    @Provide
    Arbitrary<DType> dtypes() {
        return Arbitraries.of(DType.INT8, DType.INT32, DType.INT64, DType.FLOAT16);
    }

    @Provide
    Arbitrary<Long> available() {
        return Arbitraries.longs().between(0, 1L << 50);
    }

    /** Runs {@code body} with the memory available fixed at {@code bytes} ({@link NativeMemory#AVAILABLE_PROPERTY}). */
    static void withAvailable(long bytes, Runnable body) {
        String old = System.getProperty(NativeMemory.AVAILABLE_PROPERTY);
        System.setProperty(NativeMemory.AVAILABLE_PROPERTY, Long.toString(bytes));
        try {
            body.run();
        } finally {
            if (old == null) {
                System.clearProperty(NativeMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(NativeMemory.AVAILABLE_PROPERTY, old);
            }
        }
    }
}
