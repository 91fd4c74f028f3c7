package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlReaderTest {
    @TempDir
    Path dir;

    private SampleStore read(String text) throws IOException {
        Path f = dir.resolve("d.jsonl");
        Files.writeString(f, text);
        return Datasets.open(f);
    }

    @Test
    void integersBecomeInt64Sequences() throws IOException {
        try (SampleStore s = read("[1, 2, 3]\n[]\n[-9223372036854775808, 9223372036854775807]\n")) {
            assertEquals(DType.INT64, s.dtype());
            assertEquals(3, s.size());
            assertEquals(3, s.length(0));
            assertEquals(0, s.length(1));
            assertEquals(2, s.length(2));
            assertEquals(Long.MIN_VALUE, s.sample(2).getAtIndex(ValueLayout.JAVA_LONG, 0));
            assertEquals(Long.MAX_VALUE, s.sample(2).getAtIndex(ValueLayout.JAVA_LONG, 1));
            assertArrayEquals(new long[0], s.featureShape());
        }
    }

    @Test
    void anyFloatMakesTheFileFloat64() throws IOException {
        try (SampleStore s = read("[1, 2]\n[0.5, -0.0]")) {
            assertEquals(DType.FLOAT64, s.dtype());
            assertEquals(1.0, s.sample(0).getAtIndex(ValueLayout.JAVA_DOUBLE, 0));
            assertEquals(Double.doubleToRawLongBits(-0.0),
                    Double.doubleToRawLongBits(s.sample(1).getAtIndex(ValueLayout.JAVA_DOUBLE, 1)));
        }
    }

    @Test
    void featureVectorsGiveAFeatureShape() throws IOException {
        try (SampleStore s = read("[]\n[[1, 2], [3, 4], [5, 6]]\n[[7, 8]]\n")) {
            assertArrayEquals(new long[] {2}, s.featureShape());
            assertEquals(3, s.length(1));
            assertEquals(1, s.length(2));
            assertEquals(3, s.offset(2));
            assertEquals(7L, s.sample(2).getAtIndex(ValueLayout.JAVA_LONG, 0));
            assertEquals(8L, s.sample(2).getAtIndex(ValueLayout.JAVA_LONG, 1));
        }
    }

    @Test
    void emptyFileIsAnEmptyStore() throws IOException {
        try (SampleStore s = read("")) {
            assertEquals(0, s.size());
        }
    }
}
