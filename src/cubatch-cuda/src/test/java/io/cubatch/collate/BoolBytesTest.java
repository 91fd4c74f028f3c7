package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import io.cubatch.store.Datasets;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A bool {@code .npy} whose bytes are 2, 7, 128 or 255 (src/test/resources/bad/npy_bool_bytes.npy) pads and
 * stacks as NumPy reads it, {@code a.astype(...)}: any nonzero byte is 1, on every backend, into every
 * output dtype, including bool itself (no bit copy) and the cuda backend's 16-byte path (rows of 16 bytes).
 * Tagged {@code backends}: it runs again under the CUDA driver emulator, where cuda is one of the backends.
 */
@Tag("backends")
class BoolBytesTest {
    /** The file's rows as NumPy's {@code np.load(f).astype(np.int32)} gives them. */
    static final int[][] NUMPY = {{0, 1, 1, 1, 1, 0, 1, 1}, {1, 0, 0, 1, 1, 1, 0, 1}};

    static Path file() {
        try {
            return Path.of(BoolBytesTest.class.getResource("/bad/npy_bool_bytes.npy").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void boolBytesPadAndStackAsOneOnEveryBackend() throws IOException {
        List<DType> outputs = List.of(DType.BOOL, DType.UINT8, DType.INT8, DType.INT32, DType.INT64, DType.FLOAT16,
                DType.BFLOAT16, DType.FLOAT32, DType.FLOAT64);
        try (SampleStore s = Datasets.open(file()); Arena arena = Arena.ofConfined()) {
            assertEquals(DType.BOOL, s.dtype());
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name)) {
                    for (DType dst : outputs) {
                        for (PadSide side : PadSide.values()) {
                            // maxlen 16: a bool row of 16 bytes, the cuda backend's 16-byte kernel shape
                            for (long maxlen : new long[] {8, 16, 5}) {
                                Padding p = Padding.builder().side(side).maxlen(maxlen).truncation(PadSide.POST)
                                        .value(1).dtype(dst).build();
                                long[] rows = {1, 0, 1};
                                PaddedBatch out = PaddedBatch.allocate(c.shape(s, rows, p), arena);
                                c.pad(s, rows, p, out);
                                long l = out.shape().length();
                                for (int b = 0; b < rows.length; b++) {
                                    for (long t = 0; t < l; t++) {
                                        long real = side == PadSide.PRE ? t - (l - Math.min(8, maxlen)) : t;
                                        double want = real >= 0 && real < Math.min(8, maxlen)
                                                ? NUMPY[(int) rows[b]][(int) real] : 1;
                                        assertEquals(want, element(out.data(), dst, b * l + t), name + " " + dst + " "
                                                + side + " maxlen " + maxlen + " row " + b + " t " + t);
                                    }
                                }
                            }
                        }
                        MemorySegment stacked = arena.allocate(2L * 8 * dst.byteSize());
                        c.stack(s, new long[] {1, 0}, dst, stacked);
                        for (int e = 0; e < 16; e++) {
                            assertEquals(NUMPY[1 - e / 8][e % 8], element(stacked, dst, e), name + " stack " + dst + " " + e);
                        }
                    }
                }
            }
        }
    }

    /** Element {@code i} as a number; a bool output must hold the byte 0 or 1 itself. */
    private static double element(MemorySegment m, DType t, long i) {
        if (t == DType.BOOL) {
            byte raw = m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i);
            assertTrue(raw == 0 || raw == 1, "bool output byte " + raw);
            return raw;
        }
        return t.isFloatingPoint() ? Conversions.loadDouble(m, t, i) : Conversions.loadLong(m, t, i);
    }
}
