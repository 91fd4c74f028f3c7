package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cubatch.store.DType;
import io.cubatch.store.NpyReader;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PadCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path jsonl(String text) throws IOException {
        Path f = dir.resolve("in.jsonl");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void jsonOutputIsTheDesignContract() throws Exception {
        Path in = jsonl("[1]\n[2, 3]\n[4, 5, 6]\n");
        PlanCommandTest.Result r = run("pad", "--input", in.toString(), "--padding", "pre", "--dtype", "int32",
                "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals("[3,3]", j.get("shape").toString());
        assertEquals("int32", j.get("dtype").asText());
        assertEquals("[[0,0,1],[0,2,3],[4,5,6]]", j.get("data").toString());
        assertEquals("[1,2,3]", j.get("lengths").toString());
        assertEquals("[[0,0,1],[0,1,1],[1,1,1]]", j.get("attention_mask").toString());
    }

    @Test
    void everyBackendPrintsTheSameBatch() throws Exception {
        Path in = jsonl("[1.5, 2]\n[]\n[[3]]\n".replace("[[3]]", "[3, 4, 5, 6]"));
        String[] common = {"pad", "--input", in.toString(), "--padding", "post", "--maxlen", "3", "--truncating", "pre",
                "--pad-to-multiple-of", "4", "--value", "-1", "--dtype", "float16", "--positions"};
        JsonNode java = JSON.readTree(run(concat(common, "--backend", "java")).out());
        JsonNode nat = JSON.readTree(run(concat(common, "--backend", "native")).out());
        assertEquals("[[1.5,2.0,-1.0,-1.0],[-1.0,-1.0,-1.0,-1.0],[4.0,5.0,6.0,-1.0]]", java.get("data").toString());
        assertEquals("[[0,1,0,0],[0,0,0,0],[0,1,2,0]]", java.get("position_ids").toString());
        ((com.fasterxml.jackson.databind.node.ObjectNode) java).remove("backend");
        ((com.fasterxml.jackson.databind.node.ObjectNode) nat).remove("backend");
        assertEquals(java, nat);
    }

    @Test
    void featuresGiveThreeDimensions() throws Exception {
        Path in = jsonl("[[1, 1]]\n[[2, 1], [2, 2]]\n");
        JsonNode j = JSON.readTree(run("pad", "--input", in.toString(), "--padding", "post", "--dtype", "int64").out());
        assertEquals("[2,2,2]", j.get("shape").toString());
        assertEquals("[[[1,1],[0,0]],[[2,1],[2,2]]]", j.get("data").toString());
    }

    @Test
    void jsonNestsEveryDimensionOfTheShape() throws Exception {
        // [2, 3, 4, 5] int16 holding 0..119: every sample is [3, 4, 5], so the batch is the array itself
        Path in = dir.resolve("four_d.npy");
        short[] values = new short[2 * 3 * 4 * 5];
        for (int i = 0; i < values.length; i++) {
            values[i] = (short) i;
        }
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment seg = arena.allocateFrom(ValueLayout.JAVA_SHORT, values);
            io.cubatch.store.NpyWriter.write(in, DType.INT16, new long[] {2, 3, 4, 5}, seg);
        }
        PlanCommandTest.Result r = run("pad", "--input", in.toString(), "--padding", "post", "--dtype", "int32");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals("[2,3,4,5]", j.get("shape").toString());
        JsonNode data = j.get("data");
        int flat = 0;
        assertEquals(2, data.size());
        for (int b = 0; b < 2; b++) {
            assertEquals(3, data.get(b).size());
            for (int t = 0; t < 3; t++) {
                assertEquals(4, data.get(b).get(t).size(), data.get(b).get(t).toString());
                for (int f = 0; f < 4; f++) {
                    JsonNode row = data.get(b).get(t).get(f);
                    assertEquals(5, row.size(), row.toString());
                    for (int g = 0; g < 5; g++) {
                        assertEquals(flat++, row.get(g).asInt());
                    }
                }
            }
        }
        assertEquals("[3,3]", j.get("lengths").toString());
    }

    @Test
    void npyWritesDataAndSiblings() throws Exception {
        Path in = jsonl("[1]\n[2, 3]\n");
        Path out = dir.resolve("batch.npy");
        PlanCommandTest.Result r = run("pad", "--input", in.toString(), "--padding", "post", "--dtype", "uint16",
                "--format", "npy", "--output", out.toString(), "--positions");
        assertEquals(0, r.code(), r.err());
        try (SampleStore data = NpyReader.open(out); SampleStore lengths = NpyReader.open(dir.resolve("batch.lengths.npy"));
             SampleStore mask = NpyReader.open(dir.resolve("batch.attention_mask.npy"));
             SampleStore pos = NpyReader.open(dir.resolve("batch.position_ids.npy"))) {
            assertEquals(DType.UINT16, data.dtype());
            assertArrayEquals(new short[] {1, 0, 2, 3}, data.values().toArray(ValueLayout.JAVA_SHORT));
            assertArrayEquals(new int[] {1, 2}, lengths.values().toArray(ValueLayout.JAVA_INT));
            assertArrayEquals(new byte[] {1, 0, 1, 1}, mask.values().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new int[] {0, 0, 0, 1}, pos.values().toArray(ValueLayout.JAVA_INT));
        }
    }

    @Test
    void readsNpyAndMegatronInputs() throws Exception {
        Path npy = Path.of(PadCommandTest.class.getResource("/fixtures/arange_int16.npy").toURI());
        JsonNode j = JSON.readTree(run("pad", "--input", npy.toString(), "--padding", "post", "--maxlen", "2",
                "--truncating", "post", "--dtype", "int32").out());
        assertEquals("[[0,1],[6,7],[12,13],[18,19]]", j.get("data").toString());
        String prefix = Path.of(PadCommandTest.class.getResource("/fixtures/tiny.idx").toURI()).toString().replace(".idx", "");
        j = JSON.readTree(run("pad", "--input", prefix, "--padding", "pre", "--dtype", "int32").out());
        assertEquals("[[1,2,3],[0,0,4],[0,0,0],[0,5,6]]", j.get("data").toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "--padding pre",                                             // no --dtype
            "--dtype int32",                                             // no --padding
            "--padding sideways --dtype int32",                          // bad side
            "--padding pre --dtype int33",                               // bad dtype
            "--padding pre --dtype int32 --maxlen 2",                    // too long, no truncation
            "--padding pre --dtype int32 --maxlen 0",                    // maxlen 0
            "--padding pre --dtype int8 --value 200",                    // pad value does not fit
            "--padding pre --dtype uint8",                               // -5 does not fit
            "--padding pre --dtype int32 --pad-to-multiple-of 0",        // multiple 0
            "--padding pre --dtype int32 --format npy",                  // npy without output
            "--padding pre --dtype bfloat16 --format npy --output x.npy",// bfloat16 to npy
            "--padding pre --dtype int32 --backend gpu",                 // unknown backend
            "--padding pre --dtype int32 --output /no/such/dir/x.json",  // missing directory
    })
    void invalidArgumentsExitTwoWithAMessage(String line) throws Exception {
        Path in = jsonl("[1, 2, 3]\n[-5]\n");
        String[] args = concat(new String[] {"pad", "--input", in.toString()}, line.split(" "));
        PlanCommandTest.Result r = run(args);
        assertEquals(2, r.code(), line + " -> " + r.err());
        assertFalse(r.err().isBlank());
        assertFalse(r.err().contains("\tat "), r.err());
        assertEquals("", r.out());
    }

    @Test
    void messagesNameTheValueAndTheFix() throws Exception {
        Path in = jsonl("[1, 2, 3]\n[-5]\n");
        PlanCommandTest.Result r = run("pad", "--input", in.toString(), "--padding", "pre", "--dtype", "uint8");
        assertTrue(r.err().contains("sample 1 (batch row 1), timestep 0: value -5 does not fit uint8"), r.err());
        r = run("pad", "--input", in.toString(), "--padding", "pre", "--dtype", "int32", "--maxlen", "2");
        assertTrue(r.err().contains("sample 0 (batch row 0) has 3 timesteps, more than maxlen 2"), r.err());
        r = run("pad", "--input", dir.resolve("absent.jsonl").toString(), "--padding", "pre", "--dtype", "int32");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such file"), r.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
