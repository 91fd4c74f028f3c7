package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cubatch.store.ArrowJsFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cubatch convert} round trips, and Arrow input through {@code info}, {@code pad} and {@code run}. */
class ConvertCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String[] pad(Path in, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("pad", "--input", in.toString(), "--padding", "post",
                "--dtype", "int64", "--value", "-1", "--positions", "--format", "json"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static JsonNode padJson(Path in, String... more) throws Exception {
        PlanCommandTest.Result r = run(pad(in, more));
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        ((com.fasterxml.jackson.databind.node.ObjectNode) j).remove("backend");
        return j;
    }

    /** Every format to every written format and back: the same padded batch each time. */
    @Test
    void everyFormatRoundTrips() throws Exception {
        Path jsonl = dir.resolve("in.jsonl");
        Files.writeString(jsonl, "[5, 6, 7]\n[]\n[8]\n[9, 10]\n");
        JsonNode expected = padJson(jsonl);
        Path arrow = ArrowJsFixtures.dir().resolve("tokens.stream.arrow");
        JsonNode arrowExpected = padJson(arrow);
        for (Path in : List.of(jsonl, arrow)) {
            JsonNode want = in == jsonl ? expected : arrowExpected;
            Path npy = dir.resolve(in.getFileName() + ".npy");
            Path mm = dir.resolve(in.getFileName() + "_mm");
            PlanCommandTest.Result r = run("convert", "--input", in.toString(), "--output", npy.toString());
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains(npy + " + " + dir.resolve(in.getFileName() + ".offsets.npy")), r.out());
            assertEquals(want, padJson(npy), "via ragged .npy");
            r = run("convert", "--input", npy.toString(), "--output", mm.toString(), "--format", "json");
            assertEquals(0, r.code(), r.err());
            JsonNode j = JSON.readTree(r.out());
            assertEquals("npy", j.get("from").asText());
            assertEquals("megatron", j.get("to").asText());
            assertEquals(2, j.get("files").size());
            assertEquals(want, padJson(mm), "via megatron");
            Path back = dir.resolve(in.getFileName() + ".again.npy");
            r = run("convert", "--input", mm + ".idx", "--output", back.toString());
            assertEquals(0, r.code(), r.err());
            assertEquals(-1, Files.mismatch(npy, back), "npy -> megatron -> npy gives the same file");
            Path mm2 = dir.resolve(in.getFileName() + "_mm2");
            r = run("convert", "--input", in.toString(), "--output", mm2.toString(), "--to", "megatron");
            assertEquals(0, r.code(), r.err());
            assertEquals(-1, Files.mismatch(Path.of(mm + ".bin"), Path.of(mm2 + ".bin")));
            assertEquals(-1, Files.mismatch(Path.of(mm + ".idx"), Path.of(mm2 + ".idx")));
        }
        // a fixed .npy stays one array
        Path fixed = dir.resolve("fixed.npy");
        Path copy = dir.resolve("copy.npy");
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            io.cubatch.store.NpyWriter.write(fixed, io.cubatch.store.DType.INT16, new long[] {2, 3},
                    arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_SHORT, (short) 1, (short) 2, (short) 3,
                            (short) 4, (short) 5, (short) 6));
        }
        assertEquals(0, run("convert", "--input", fixed.toString(), "--output", copy.toString()).code());
        assertEquals(-1, Files.mismatch(fixed, copy));
        assertFalse(Files.exists(dir.resolve("copy.offsets.npy")));
    }

    @Test
    void badConvertArgumentsExitTwoNamingTheFix() throws Exception {
        Path jsonl = dir.resolve("in.jsonl");
        Files.writeString(jsonl, "[1.5]\n");
        PlanCommandTest.Result r = run("convert", "--input", jsonl.toString(), "--output", dir.resolve("x").toString(),
                "--to", "parquet");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--to parquet is not a format cubatch writes: use npy or megatron"), r.err());
        r = run("convert", "--input", jsonl.toString(), "--output", dir.resolve("x.bin").toString(), "--to", "npy");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("name a .npy file"), r.err());
        Path npy = dir.resolve("self.npy");
        assertEquals(0, run("convert", "--input", jsonl.toString(), "--output", npy.toString()).code());
        r = run("convert", "--input", npy.toString(), "--output", npy.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("convert would replace what it reads"), r.err());
        // an output in a directory that does not exist names that directory, not a temporary file
        Path missing = dir.resolve("no-such-dir").resolve("x.npy");
        r = run("convert", "--input", jsonl.toString(), "--output", missing.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--output " + missing + ": the directory " + missing.getParent() + " does not exist"),
                r.err());
        assertFalse(r.err().contains(".tmp"), r.err());
        r = run("convert", "--input", jsonl.toString(), "--output", "");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--output is empty"), r.err());
        // float64 JSONL to Megatron works; bfloat16 never reaches a file
        assertEquals(0, run("convert", "--input", jsonl.toString(), "--output", dir.resolve("f").toString()).code());
    }

    /** The done-when: Arrow JS's stream opens with info --column input_ids and pads as the .npy does. */
    @Test
    void arrowJsStreamThroughInfoAndPadAsNpyBytes() throws Exception {
        Path arrow = ArrowJsFixtures.dir().resolve("tokens.stream.arrow");
        PlanCommandTest.Result r = run("info", "--input", arrow.toString(), "--column", "input_ids", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode info = JSON.readTree(r.out());
        assertEquals("arrow", info.get("format").asText());
        assertEquals("int32", info.get("dtype").asText());
        assertEquals(9, info.get("samples").asInt());
        assertEquals(35, info.get("total_tokens").asInt());
        assertEquals(4, info.get("chunks").asInt(), "four record batches, served in place");
        // the same rows, as Arrow JS read them, written as a ragged .npy pair by NumPy-compatible code
        JsonNode rows = ArrowJsFixtures.expected("tokens.stream.arrow").get("rows").get("input_ids");
        int[][] data = new int[rows.size()][];
        for (int i = 0; i < data.length; i++) {
            data[i] = new int[rows.get(i).size()];
            for (int t = 0; t < data[i].length; t++) {
                data[i][t] = rows.get(i).get(t).asInt();
            }
        }
        Path npy = dir.resolve("same.npy");
        try (io.cubatch.store.SampleStore s = io.cubatch.store.SampleStore.of(data)) {
            io.cubatch.store.DatasetWriter.write(s, npy, io.cubatch.store.DatasetWriter.Target.NPY);
        }
        for (String backend : new String[] {"java", "native"}) {
            Path a = dir.resolve("a_" + backend + ".npy");
            Path b = dir.resolve("b_" + backend + ".npy");
            String[] common = {"pad", "--padding", "pre", "--truncating", "post", "--maxlen", "5", "--dtype", "int32",
                "--format", "npy", "--backend", backend};
            r = run(concat(common, "--input", arrow.toString(), "--column", "input_ids", "--output", a.toString()));
            assertEquals(0, r.code(), r.err());
            r = run(concat(common, "--input", npy.toString(), "--output", b.toString()));
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), backend);
        }
        // a wrong column: exit 2, one line listing the columns
        r = run("info", "--input", arrow.toString(), "--column", "ids");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().strip().startsWith("cubatch info: "), r.err());
        assertTrue(r.err().contains("no column named 'ids'; columns: input_ids (list<int32>)"), r.err());
        assertFalse(r.err().strip().contains("\n"), r.err());
        // null rows: an error naming the row, or skipped on request
        Path nulls = ArrowJsFixtures.dir().resolve("nulls.stream.arrow");
        r = run("info", "--input", nulls.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("row 1 of column 'input_ids' is null"), r.err());
        r = run("info", "--input", nulls.toString(), "--skip-null-rows", "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, JSON.readTree(r.out()).get("samples").asInt());
        // run over the Arrow stream (chunked, in place) with both host backends
        for (String backend : new String[] {"java", "native"}) {
            r = run("run", "--input", arrow.toString(), "--column", "labels", "--batch-size", "3", "--padding", "post",
                    "--dtype", "int64", "--backend", backend, "--format", "json");
            assertEquals(0, r.code(), r.err());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** A fixed dataset written over an earlier ragged pair's name: the stale offsets must not pair with it. */
    @Test
    void fixedOutputOverARaggedPairLeavesNoStaleOffsets() throws Exception {
        Path jsonl = dir.resolve("r.jsonl");
        Files.writeString(jsonl, "[1, 2, 3]\n[4]\n[5, 6]\n");
        Path fixed = dir.resolve("fixed.npy");
        PlanCommandTest.Result r = run("pad", "--input", jsonl.toString(), "--padding", "post", "--dtype", "int64",
                "--format", "npy", "--output", fixed.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode want = padJson(fixed);
        Path out = dir.resolve("out.npy");
        assertEquals(0, run("convert", "--input", jsonl.toString(), "--output", out.toString()).code());
        assertTrue(Files.exists(dir.resolve("out.offsets.npy")));
        r = run("convert", "--input", fixed.toString(), "--output", out.toString(), "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertFalse(Files.exists(dir.resolve("out.offsets.npy")), "a stale offsets file pairs with the fixed output");
        assertEquals(want, padJson(out));
    }

    /** plan reads --input as every command does: --column and --skip-null-rows, which its own error names. */
    @Test
    void planTakesTheArrowInputOptions() throws Exception {
        Path tokens = ArrowJsFixtures.dir().resolve("tokens.stream.arrow");
        PlanCommandTest.Result r = run("plan", "--input", tokens.toString(), "--column", "labels", "--max-tokens", "30",
                "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertEquals(9, JSON.readTree(r.out()).get("samples").asLong());
        Path nulls = ArrowJsFixtures.dir().resolve("nulls.stream.arrow");
        r = run("plan", "--input", nulls.toString(), "--batch-size", "1", "--format", "json");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--skip-null-rows"), r.err());
        r = run("plan", "--input", nulls.toString(), "--batch-size", "1", "--skip-null-rows", "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, JSON.readTree(r.out()).get("samples").asLong());
    }
}
