package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** cubatch's reading of Arrow IPC files written by Arrow JS ({@link ArrowJsFixtures}) against Arrow JS's own. */
class ArrowReaderTest {
    @TempDir
    Path dir;

    private static Path fixture(String name) throws Exception {
        return ArrowJsFixtures.dir().resolve(name);
    }

    @ParameterizedTest
    @CsvSource({
        "tokens.stream.arrow, input_ids, INT32", "tokens.stream.arrow, labels, INT64",
        "tokens.stream.arrow, attention_mask, INT8", "tokens.stream.arrow, scores, FLOAT32",
        "tokens.file.arrow, input_ids, INT32", "tokens.file.arrow, labels, INT64",
        "tokens.file.arrow, scores, FLOAT32", "one_batch.stream.arrow, input_ids, INT32"})
    void everyRowIsWhatArrowJsReads(String file, String column, DType dtype) throws Exception {
        JsonNode js = ArrowJsFixtures.expected(file);
        JsonNode rows = js.get("rows").get(column);
        try (SampleStore s = Datasets.open(fixture(file), ArrowReader.Options.column(column))) {
            assertEquals(dtype, s.dtype());
            assertEquals(rows.size(), s.size());
            assertTrue(s.isRagged());
            assertEquals(js.get("batches").asInt() > 1, !s.isContiguous(), s.toString());
            long total = 0;
            for (int i = 0; i < rows.size(); i++) {
                JsonNode row = rows.get(i);
                assertEquals(row.size(), s.length(i), "row " + i);
                MemorySegment sample = s.sample(i);
                for (int t = 0; t < row.size(); t++) {
                    assertEquals(row.get(t).asText(), element(sample, dtype, t), file + " " + column + " row " + i);
                }
                total += row.size();
            }
            assertEquals(total, s.totalTimesteps());
        }
    }

    private static String element(MemorySegment s, DType t, int i) {
        return switch (t) {
            case INT8 -> Byte.toString(s.get(ValueLayout.JAVA_BYTE, i));
            case INT32 -> Integer.toString(s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i));
            case INT64 -> Long.toString(s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
            case FLOAT32 -> {
                float f = s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                yield f == Math.rint(f) ? Long.toString((long) f) : Float.toString(f);
            }
            default -> throw new AssertionError(t);
        };
    }

    @Test
    void theStreamIsChunkedInPlaceAndTheDefaultColumnIsInputIds() throws Exception {
        try (SampleStore s = Datasets.open(fixture("tokens.stream.arrow"))) {
            assertEquals(Datasets.Format.ARROW, Datasets.formatOf(fixture("tokens.stream.arrow")));
            assertEquals(DType.INT32, s.dtype());
            assertFalse(s.isContiguous());
            assertEquals(4, s.chunks());
            assertTrue(s.values().isMapped(), "values are served from the mapping, not copied");
            assertTrue(s.values().isReadOnly());
        }
    }

    @Test
    void aWrongColumnNameListsTheColumns() throws Exception {
        DatasetFormatException e = assertThrows(DatasetFormatException.class,
                () -> Datasets.open(fixture("tokens.stream.arrow"), ArrowReader.Options.column("input_id")));
        assertTrue(e.getMessage().contains("no column named 'input_id'; columns: input_ids (list<int32>), labels"
                + " (list<int64>), attention_mask (list<int8>), scores (list<float>), text (utf8)"), e.getMessage());
        assertTrue(e.getMessage().contains("--column"), e.getMessage());
    }

    @Test
    void aColumnThatIsNoListOfNumbersIsRefusedByType() throws Exception {
        DatasetFormatException e = assertThrows(DatasetFormatException.class,
                () -> Datasets.open(fixture("tokens.file.arrow"), ArrowReader.Options.column("text")));
        assertTrue(e.getMessage().contains("column 'text' of type utf8"), e.getMessage());
    }

    @Test
    void aNullRowIsAnErrorNamingItUnlessSkipped() throws Exception {
        JsonNode js = ArrowJsFixtures.expected("nulls.stream.arrow").get("rows").get("input_ids");
        assertTrue(js.get(1).isNull(), "Arrow JS wrote row 1 as null");
        DatasetFormatException e = assertThrows(DatasetFormatException.class,
                () -> Datasets.open(fixture("nulls.stream.arrow")));
        assertTrue(e.getMessage().contains("row 1 of column 'input_ids' is null"), e.getMessage());
        try (SampleStore s = Datasets.open(fixture("nulls.stream.arrow"), new ArrowReader.Options(null, true))) {
            assertEquals(2, s.size());
            assertArrayEquals(new int[] {1, 2}, s.sample(0).toArray(ValueLayout.JAVA_INT));
            assertArrayEquals(new int[] {3}, s.sample(1).toArray(ValueLayout.JAVA_INT));
        }
    }

    /** The same data as Arrow (from Arrow JS), as a ragged .npy pair and as a Megatron pair pad to the same bytes. */
    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void arrowNpyAndMegatronPadToTheSameBytes(String backend) throws Exception {
        JsonNode rows = ArrowJsFixtures.expected("tokens.stream.arrow").get("rows").get("input_ids");
        int[][] data = new int[rows.size()][];
        for (int i = 0; i < data.length; i++) {
            data[i] = new int[rows.get(i).size()];
            for (int t = 0; t < data[i].length; t++) {
                data[i][t] = rows.get(i).get(t).asInt();
            }
        }
        Path npy = dir.resolve("tokens.npy");
        Path megatron = dir.resolve("tokens");
        try (SampleStore fromJson = SampleStore.of(data)) {
            DatasetWriter.write(fromJson, npy, DatasetWriter.Target.NPY);
            DatasetWriter.write(fromJson, megatron, DatasetWriter.Target.MEGATRON);
        }
        List<byte[]> padded = new ArrayList<>();
        for (Path p : List.of(fixture("tokens.stream.arrow"), fixture("tokens.file.arrow"), npy, megatron)) {
            try (SampleStore s = Datasets.open(p)) {
                padded.add(pad(s, backend));
            }
        }
        for (int i = 1; i < padded.size(); i++) {
            assertArrayEquals(padded.getFirst(), padded.get(i), "input " + i);
        }
    }

    static byte[] pad(SampleStore s, String backend) {
        Padding padding = Padding.builder().side(PadSide.POST).truncation(PadSide.PRE).maxlen(6).value(-1)
                .dtype(DType.INT64).positions(true).build();
        long[] indices = LongStream.range(0, s.size()).map(i -> s.size() - 1 - i).toArray();
        try (Collator c = Backends.create(backend); Arena arena = Arena.ofConfined()) {
            PaddedShape shape = c.shape(s, indices, padding);
            PaddedBatch out = PaddedBatch.allocate(shape, arena);
            c.pad(s, indices, padding, out);
            List<byte[]> parts = List.of(out.data().toArray(ValueLayout.JAVA_BYTE),
                    out.lengths().toArray(ValueLayout.JAVA_BYTE), out.attentionMask().toArray(ValueLayout.JAVA_BYTE),
                    out.positions().toArray(ValueLayout.JAVA_BYTE));
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            parts.forEach(all::writeBytes);
            return all.toByteArray();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
