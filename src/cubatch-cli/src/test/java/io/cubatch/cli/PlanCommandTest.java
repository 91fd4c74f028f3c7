package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PlanCommandTest {
    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    static Result plan(String line) {
        List<String> args = new ArrayList<>(List.of("plan"));
        args.addAll(List.of(line.trim().split("\\s+")));
        return run(args.toArray(String[]::new));
    }

    @AfterEach
    void restoreEnvironment() {
        PlanCommand.environment = System.getenv();
    }

    /** Sizes beyond the heap are exit 2 with one line naming the heap and the fixes, not a stack trace. */
    @Test
    void aBatchLargerThanTheHeapIsExitTwoNamingTheHeap() {
        Result r = plan("--samples 2000000000 --batch-size 1000000000 --format json");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("cubatch plan: out of Java heap ("), r.err());
        assertTrue(r.err().contains("JAVA_TOOL_OPTIONS=-Xmx"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void jsonContractForTheSeedCase() throws Exception {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 103 --global-batch-size 32 --world-size 4 --remainder pad --last-batch partial --format json");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(103, j.get("samples").asLong());
        assertEquals(4, j.get("world_size").asInt());
        assertEquals(8, j.get("batch_size").asInt());
        assertEquals(32, j.get("global_batch_size").asInt());
        assertEquals("pad", j.get("remainder").asText());
        assertEquals("partial", j.get("last_batch").asText());
        assertFalse(j.get("shuffle").asBoolean());
        assertTrue(j.get("seed").isNull());
        assertEquals(0, j.get("epoch").asInt());
        assertEquals(4, j.get("ranks").size());
        JsonNode rank0 = j.get("ranks").get(0);
        assertEquals(0, rank0.get("rank").asInt());
        assertEquals(26, rank0.get("num_samples").asInt());
        assertEquals("[0,4,8,12,16,20,24,28]", rank0.get("batches").get(0).toString());
        assertEquals(4, rank0.get("batches").size());
        JsonNode rank3 = j.get("ranks").get(3);
        assertEquals("[99,0]", rank3.get("batches").get(3).toString());
        assertEquals("[0]", rank3.get("repeated").toString());
        assertTrue(j.get("warnings").isArray());
        assertEquals(0, j.get("warnings").size());
    }

    @Test
    void rankOptionShowsOnlyThatRank() throws Exception {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 10 --batch-size 2 --world-size 4 --rank 2 --remainder pad --last-batch fill --format json");
        assertEquals(0, r.code(), r.err());
        JsonNode ranks = JSON.readTree(r.out()).get("ranks");
        assertEquals(1, ranks.size());
        assertEquals(2, ranks.get(0).get("rank").asInt());
        assertEquals("[[2,6],[0,0]]", ranks.get(0).get("batches").toString());
        assertEquals(1, ranks.get(0).get("fill_count").asInt());
    }

    @Test
    void launcherEnvironmentSuppliesTheWorld() throws Exception {
        PlanCommand.environment = Map.of("RANK", "1", "WORLD_SIZE", "2");
        Result r = plan("--samples 8 --batch-size 2 --format json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(2, j.get("world_size").asInt());
        assertEquals(1, j.get("ranks").size());
        assertEquals(1, j.get("ranks").get(0).get("rank").asInt());
        assertTrue(j.get("rank_source").asText().startsWith("torchrun"));
    }

    @Test
    void shuffledJsonNamesTheSeedAndAlgorithm() throws Exception {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 10 --batch-size 10 --shuffle --seed 42 --format json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertTrue(j.get("shuffle").asBoolean());
        assertEquals(42, j.get("seed").asLong());
        assertEquals("cubatch-feistel-v1", j.get("shuffle_algorithm").asText());
        assertEquals("[9,3,1,5,8,6,2,4,7,0]", j.get("ranks").get(0).get("batches").get(0).toString());
    }

    @Test
    void textOutputHasTheTableAndWarnings() {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 103 --global-batch-size 32 --world-size 4 --remainder partial --last-batch partial");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("rank      samples      steps"), r.out());
        assertTrue(r.out().contains("step 3: [99]"), r.out());
        assertTrue(r.out().contains("warnings:"), r.out());
        assertTrue(r.out().contains("BatchNorm"), r.out());
    }

    @Test
    void missingRemainderExitsTwoWithTheChoices() {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 103 --global-batch-size 32 --world-size 4");
        assertEquals(2, r.code());
        assertEquals("", r.out());
        assertTrue(r.err().contains("--remainder pad|drop|partial"), r.err());
        assertTrue(r.err().contains("every rank gets 26 samples"), r.err());
    }

    @Test
    void missingLastBatchExitsTwoWithTheChoices() {
        PlanCommand.environment = Map.of();
        Result r = plan("--samples 103 --batch-size 32");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--last-batch partial|drop|fill"), r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "--samples 10",                                        // no batch size
            "--samples 10 --batch-size 0",                         // zero
            "--samples 10 --batch-size -3",                        // negative
            "--samples 0 --batch-size 1",                          // no samples
            "--samples 10 --batch-size 2 --global-batch-size 4",   // both
            "--samples 10 --global-batch-size 30 --world-size 4",  // not divisible
            "--samples 10 --batch-size 1 --world-size 4 --rank 4", // rank out of range
            "--samples 10 --batch-size 1 --world-size 0",          // world size
            "--samples 10 --batch-size 1 --shuffle",               // no seed
            "--samples 10 --batch-size 1 --seed 3",                // seed without shuffle
            "--samples 10 --batch-size 1 --resume-at 11",          // past the epoch
            "--samples 10 --batch-size 1 --epoch -1",              // negative epoch
            "--samples 10 --batch-size 1 --remainder sideways",    // unknown policy
            "--samples 10 --batch-size 1 --format xml",            // unknown format
            "--samples ten --batch-size 1",                        // not a number
            "--samples 10 --batch-size 1 --frobnicate",            // unknown option
            "--batch-size 1",                                      // missing --samples
    })
    void invalidArgumentsExitTwoWithAMessageAndNoStackTrace(String line) {
        PlanCommand.environment = Map.of();
        Result r = plan(line);
        assertEquals(2, r.code(), line + " -> " + r.err());
        assertFalse(r.err().isBlank(), line);
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertEquals("", r.out(), line);
    }

    @Test
    void environmentConflictExitsTwo() {
        PlanCommand.environment = Map.of("RANK", "0", "WORLD_SIZE", "4");
        Result r = plan("--samples 10 --batch-size 1 --world-size 8");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("conflicts with torchrun"), r.err());
    }

    @Test
    void noCommandIsAUsageError() {
        Result r = run();
        assertEquals(2, r.code());
        assertTrue(r.err().contains("plan"), r.err());
    }

    @Test
    void helpAndVersionExitZero() {
        assertEquals(0, run("plan", "--help").code());
        assertEquals(0, run("--version").code());
    }
}
