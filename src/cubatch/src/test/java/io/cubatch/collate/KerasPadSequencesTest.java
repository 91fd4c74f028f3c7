package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Keras's own pad_sequences test cases (keras/src/utils/sequence_utils_test.py: test_pad_sequences,
 * test_pad_sequences_float, test_pad_sequences_vector), with Keras's implicit defaults (padding and
 * truncating 'pre', dtype int32) written out, on every backend present.
 */
class KerasPadSequencesTest {
    static java.util.List<String> backends() {
        return CollateTestSupport.availableBackends();
    }

    private static long[] all(SampleStore s) {
        return java.util.stream.LongStream.range(0, s.size()).toArray();
    }

    private static float[] padFloats(String backend, SampleStore s, Padding p) {
        try (Collator c = Backends.create(backend); Arena arena = Arena.ofConfined()) {
            PaddedBatch out = PaddedBatch.allocate(c.shape(s, all(s), p), arena);
            c.pad(s, all(s), p, out);
            return out.data().toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static int[] padInts(String backend, SampleStore s, Padding p) {
        try (Collator c = Backends.create(backend); Arena arena = Arena.ofConfined()) {
            PaddedBatch out = PaddedBatch.allocate(c.shape(s, all(s), p), arena);
            c.pad(s, all(s), p, out);
            return out.data().toArray(ValueLayout.JAVA_INT);
        }
    }

    private static Padding.Builder keras() {
        return Padding.builder().side(PadSide.PRE).truncation(PadSide.PRE).dtype(DType.INT32);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void padSequences(String backend) {
        try (SampleStore a = SampleStore.of(new int[][] {{1}, {1, 2}, {1, 2, 3}})) {
            assertArrayEquals(new int[] {0, 0, 1, 0, 1, 2, 1, 2, 3}, padInts(backend, a, keras().maxlen(3).side(PadSide.PRE).build()));
            assertArrayEquals(new int[] {1, 0, 0, 1, 2, 0, 1, 2, 3}, padInts(backend, a, keras().maxlen(3).side(PadSide.POST).build()));
            assertArrayEquals(new int[] {0, 1, 1, 2, 2, 3}, padInts(backend, a, keras().maxlen(2).truncation(PadSide.PRE).build()));
            assertArrayEquals(new int[] {0, 1, 1, 2, 1, 2}, padInts(backend, a, keras().maxlen(2).truncation(PadSide.POST).build()));
            assertArrayEquals(new int[] {1, 1, 1, 1, 1, 2, 1, 2, 3}, padInts(backend, a, keras().maxlen(3).value(1).build()));
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void padSequencesFloat(String backend) {
        try (SampleStore a = SampleStore.of(new double[][] {{1.2}, {1.2, 2.3}, {1.2, 2.3, 3.4}})) {
            Padding.Builder f32 = keras().dtype(DType.FLOAT32);
            assertArrayEquals(new float[] {0, 0, 1.2f, 0, 1.2f, 2.3f, 1.2f, 2.3f, 3.4f},
                    padFloats(backend, a, f32.maxlen(3).side(PadSide.PRE).build()));
            assertArrayEquals(new float[] {1.2f, 0, 0, 1.2f, 2.3f, 0, 1.2f, 2.3f, 3.4f},
                    padFloats(backend, a, keras().dtype(DType.FLOAT32).maxlen(3).side(PadSide.POST).build()));
            assertArrayEquals(new float[] {0, 1.2f, 1.2f, 2.3f, 2.3f, 3.4f},
                    padFloats(backend, a, keras().dtype(DType.FLOAT32).maxlen(2).truncation(PadSide.PRE).build()));
            assertArrayEquals(new float[] {0, 1.2f, 1.2f, 2.3f, 1.2f, 2.3f},
                    padFloats(backend, a, keras().dtype(DType.FLOAT32).maxlen(2).truncation(PadSide.POST).build()));
            assertArrayEquals(new float[] {1, 1, 1.2f, 1, 1.2f, 2.3f, 1.2f, 2.3f, 3.4f},
                    padFloats(backend, a, keras().dtype(DType.FLOAT32).maxlen(3).value(1).build()));
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void padSequencesVector(String backend) {
        try (SampleStore a = SampleStore.of(new int[][][] {{{1, 1}}, {{2, 1}, {2, 2}}, {{3, 1}, {3, 2}, {3, 3}}})) {
            assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 0, 0, 2, 1, 2, 2, 3, 1, 3, 2, 3, 3},
                    padInts(backend, a, keras().maxlen(3).side(PadSide.PRE).build()));
            assertArrayEquals(new int[] {1, 1, 0, 0, 0, 0, 2, 1, 2, 2, 0, 0, 3, 1, 3, 2, 3, 3},
                    padInts(backend, a, keras().maxlen(3).side(PadSide.POST).build()));
            assertArrayEquals(new int[] {0, 0, 1, 1, 2, 1, 2, 2, 3, 2, 3, 3},
                    padInts(backend, a, keras().maxlen(2).truncation(PadSide.PRE).build()));
            assertArrayEquals(new int[] {0, 0, 1, 1, 2, 1, 2, 2, 3, 1, 3, 2},
                    padInts(backend, a, keras().maxlen(2).truncation(PadSide.POST).build()));
            assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 2, 3, 1, 3, 2, 3, 3},
                    padInts(backend, a, keras().maxlen(3).value(1).build()));
        }
    }
}
