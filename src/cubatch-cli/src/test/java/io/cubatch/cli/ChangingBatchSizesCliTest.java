package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** plan and run with micro-batches, ramp-up, token budgets, model parallelism, --resume-at, --emit-samples. */
class ChangingBatchSizesCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @AfterEach
    void restoreEnvironment() {
        PlanCommand.environment = System.getenv();
    }

    static PlanCommandTest.Result cli(String line) {
        return PlanCommandTest.run(line.trim().split("\\s+"));
    }

    /** Megatron's update(consumed), transcribed (Python float division, int() truncation). */
    static long megatron(long c, long start, long incr, long ramp, long global) {
        double perIncrement = (double) ramp / ((global - start) / incr);
        return c > ramp ? global : start + (long) (c / perIncrement) * incr;
    }

    @Test
    void planPrintsMegatronsGlobalBatchSizesStepByStep() throws Exception {
        PlanCommand.environment = Map.of();
        SplittableRandom rng = new SplittableRandom(16);
        for (int trial = 0; trial < 40; trial++) {
            int w = 1 + rng.nextInt(4);
            int m = 1 + rng.nextInt(3);
            long unit = (long) m * w;
            long start = unit * (1 + rng.nextInt(4));
            long incr = unit * (1 + rng.nextInt(3));
            long global = start + incr * (1 + rng.nextInt(6));
            long ramp = 1 + rng.nextInt(3000);
            long n = 1 + rng.nextInt(5000);
            PlanCommandTest.Result r = cli("plan --samples " + n + " --global-batch-size " + global + " --micro-batch-size "
                    + m + " --world-size " + w + " --rampup-batch-size " + start + " " + incr + " " + ramp
                    + " --remainder pad --last-batch fill --format json");
            assertEquals(0, r.code(), r.err());
            JsonNode j = JSON.readTree(r.out());
            List<Long> expected = new ArrayList<>();
            for (long c = 0; c < n; c += expected.getLast()) {
                expected.add(megatron(c, start, incr, ramp, global));
            }
            List<Long> printed = new ArrayList<>();
            j.get("global_batch_sizes").forEach(x -> printed.add(x.asLong()));
            assertEquals(expected, printed, r.out().substring(0, 200));
            JsonNode mb = j.get("ranks").get(0).get("micro_batches");
            for (int s = 0; s < expected.size(); s++) {
                assertEquals(expected.get(s) / unit, mb.get(s).asLong(), "micro-batches of step " + s);
            }
            assertEquals(m, j.get("micro_batch_size").asInt());
        }
    }

    @Test
    void aRampUpValueThatIsNotAPositiveIntegerNamesTheRange() {
        PlanCommand.environment = Map.of();
        for (String bad : new String[] {"abc", "99999999999999999999", "1.5"}) {
            PlanCommandTest.Result r = cli("plan --samples 64 --global-batch-size 32 --rampup-batch-size 8 " + bad + " 100");
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--rampup-batch-size " + bad + ": ")
                    && r.err().contains("expected an integer in [1, 9223372036854775807]"), r.err());
        }
    }

    @Test
    void badCombinationsAreOneLineExitTwo() {
        PlanCommand.environment = Map.of();
        for (String line : new String[] {
                "plan --samples 64 --global-batch-size 32 --world-size 2 --micro-batch-size 4 --grad-accumulation 3",
                "plan --samples 64 --global-batch-size 128 --micro-batch-size 8 --world-size 4 --rampup-batch-size 32 16 1000 --last-batch partial",
                "plan --samples 64 --batch-size 8 --world-size 6 --tensor-parallel 4",
                "plan --samples 64 --max-tokens 100",
                "plan --samples 64 --batch-size 8 --rampup-batch-size 1 2",
                "plan --samples 64 --batch-size 8 --sort-window 16",
                "run --batch-size 8 --format json --emit-samples " + dir.resolve("no-such-dir").resolve("x.jsonl")}) {
            PlanCommandTest.Result r = cli(line);
            assertEquals(2, r.code(), line + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(r.err().contains("Exception"), r.err());
            assertEquals("", r.out(), line);
        }
    }

    @Test
    void tensorAndPipelineRanksOfAReplicaShareItsBatches() throws Exception {
        PlanCommand.environment = Map.of("RANK", "5", "WORLD_SIZE", "8", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "4");
        PlanCommandTest.Result r = cli("plan --samples 64 --global-batch-size 16 --tensor-parallel 2 --format json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(4, j.get("world_size").asInt());
        assertEquals(2, j.get("tensor_parallel").asInt());
        assertEquals(1, j.get("ranks").size());
        assertEquals(2, j.get("ranks").get(0).get("rank").asInt());   // global rank 5 = replica 2 (ranks 4, 5)
        assertEquals("[4,5]", j.get("ranks").get(0).get("global_ranks").toString());
        PlanCommand.environment = Map.of("RANK", "4", "WORLD_SIZE", "8");
        PlanCommandTest.Result other = cli("plan --samples 64 --global-batch-size 16 --tensor-parallel 2 --format json");
        assertEquals(j.get("ranks").get(0).get("batches"), JSON.readTree(other.out()).get("ranks").get(0).get("batches"));
    }

    Path jsonl(int n, long seed) throws Exception {
        SplittableRandom rng = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int len = 1 + (int) Math.min(300, Math.exp(3 + rng.nextGaussian()));
            sb.append('[');
            for (int t = 0; t < len; t++) {
                sb.append(t == 0 ? "" : ",").append(i);
            }
            sb.append("]\n");
        }
        Path p = dir.resolve("data.jsonl");
        Files.writeString(p, sb);
        return p;
    }

    @Test
    void tokenBudgetPlansFromAFileKeepEveryBatchWithinTheBudgetAndEqualSteps() throws Exception {
        PlanCommand.environment = Map.of();
        Path data = jsonl(500, 3);
        List<String> lines = Files.readAllLines(data);
        for (String extra : new String[] {"", " --sort-window 64", " --maxlen 64 --pad-to-multiple-of 8"}) {
            PlanCommandTest.Result r = cli("plan --input " + data + " --max-tokens 1000 --world-size 3 --remainder pad"
                    + " --format json" + extra);
            assertEquals(0, r.code(), r.err());
            JsonNode j = JSON.readTree(r.out());
            long steps = j.get("ranks").get(0).get("steps").asLong();
            for (JsonNode rank : j.get("ranks")) {
                assertEquals(steps, rank.get("steps").asLong());
                for (JsonNode batch : rank.get("batches")) {
                    long longest = 0;
                    for (JsonNode id : batch) {
                        longest = Math.max(longest, JSON.readTree(lines.get(id.asInt())).size());
                    }
                    if (extra.contains("--maxlen")) {
                        longest = 64;
                    }
                    assertTrue(batch.size() * longest <= 1000, batch.size() + " x " + longest + extra);
                }
            }
            assertEquals(1000, j.get("max_tokens").asLong());
            PlanCommandTest.Result run = cli("run --input " + data + " --max-tokens 1000 --world-size 3 --rank 2"
                    + " --remainder pad --format json" + extra + (extra.contains("--maxlen") ? " --truncating post" : ""));
            assertEquals(0, run.code(), run.err());
            JsonNode stats = JSON.readTree(run.out());
            assertEquals(steps, stats.get("batches").asLong(), "run loads the plan's steps" + extra);
            assertEquals(1000, stats.get("max_tokens").asLong());
        }
    }

    @Test
    void runEmitsItsSamplesAndResumesWithAnotherWorldSizeAndMicroBatch() throws Exception {
        Path data = jsonl(300, 9);
        Map<Long, Integer> seen = new HashMap<>();
        long consumed = -1;
        for (int rank = 0; rank < 2; rank++) {
            PlanCommand.environment = Map.of("RANK", Integer.toString(rank), "WORLD_SIZE", "2", "LOCAL_RANK",
                    Integer.toString(rank), "LOCAL_WORLD_SIZE", "2");
            Path out = dir.resolve("first-" + rank + ".jsonl");
            PlanCommandTest.Result r = cli("run --input " + data + " --global-batch-size 24 --micro-batch-size 4"
                    + " --rampup-batch-size 8 8 100 --shuffle --seed 3 --last-batch partial --format json"
                    + " --emit-samples " + dir.resolve("first-{rank}.jsonl"));
            assertEquals(0, r.code(), r.err());
            assertEquals(4, JSON.readTree(r.out()).get("micro_batch_size").asInt());
            // the first 9 steps of the ramp (8, 8, ..., 16, ...): consumed = sum of their global sizes
            long c = 0;
            for (String line : Files.readAllLines(out)) {
                assertTrue(line.startsWith("{\"rank\":" + rank + ","), line);
                JsonNode b = JSON.readTree(line);
                if (b.get("step").asLong() < 9) {
                    b.get("samples").forEach(x -> seen.merge(x.asLong(), 1, Integer::sum));
                }
            }
            for (int s = 0; s < 9; s++) {
                c += megatron(c, 8, 8, 100, 24);
            }
            consumed = c;
        }
        assertEquals(88, consumed);   // 7 steps of 8, then 2 of 16
        for (int rank = 0; rank < 4; rank++) {   // 4 ranks, micro-batches of 2, under Open MPI's variables
            PlanCommand.environment = Map.of("OMPI_COMM_WORLD_RANK", Integer.toString(rank), "OMPI_COMM_WORLD_SIZE", "4");
            PlanCommandTest.Result r = cli("run --input " + data + " --global-batch-size 24 --micro-batch-size 2"
                    + " --rampup-batch-size 8 8 100 --shuffle --seed 3 --last-batch partial --remainder partial"
                    + " --resume-at " + consumed + " --format json --emit-samples " + dir.resolve("second-{rank}.jsonl"));
            assertEquals(0, r.code(), r.err());
            assertEquals(88, JSON.readTree(r.out()).get("resume_at").asLong());
            for (String line : Files.readAllLines(dir.resolve("second-" + rank + ".jsonl"))) {
                JsonNode b = JSON.readTree(line);
                b.get("samples").forEach(x -> seen.merge(x.asLong(), 1, Integer::sum));
            }
        }
        assertEquals(300, seen.size());
        assertTrue(seen.values().stream().allMatch(v -> v == 1), "a sample seen twice");
    }

    @Test
    void emitSamplesNeverOverwritesTheInputDataset() throws Exception {
        PlanCommand.environment = Map.of();
        Path data = jsonl(40, 7);
        String before = Files.readString(data);
        PlanCommandTest.Result r = cli("run --input " + data + " --batch-size 8 --format json --emit-samples " + data);
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--emit-samples " + data) && r.err().contains("input dataset"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertEquals("", r.out());
        assertEquals(before, Files.readString(data), "the input was overwritten");
        // a ragged .npy pair is mapped: its offsets file is the input's too, and {rank} expands to it
        Path npy = dir.resolve("c.npy");
        assertEquals(0, cli("convert --input " + data + " --output " + npy).code());
        Path offsets = dir.resolve("c.offsets.npy");
        byte[] off = Files.readAllBytes(offsets);
        r = cli("run --input " + npy + " --batch-size 8 --format json --emit-samples " + dir.resolve("c.offsets.npy"));
        assertEquals(2, r.code(), r.err());
        assertTrue(java.util.Arrays.equals(off, Files.readAllBytes(offsets)), "the offsets were overwritten");
    }

    @Test
    void devicesWithOptionsItDoesNotTakeIsExitTwoWithOrWithoutAGpu() {
        PlanCommand.environment = Map.of();
        for (String line : new String[] {
                "run --batch-size 8 --devices 0,1 --micro-batch-size 4",
                "run --batch-size 8 --devices 0,1 --grad-accumulation 2",
                "run --devices 0,1 --max-tokens 4096",
                "run --batch-size 8 --devices 0,1 --emit-samples " + dir.resolve("x.jsonl"),
                "run --batch-size 8 --world-size 4 --devices 0,1 --tensor-parallel 2"}) {
            PlanCommandTest.Result r = cli(line);
            assertEquals(2, r.code(), line + ": " + r.err());
            assertTrue(r.err().contains("--devices"), r.err());
        }
    }
}
