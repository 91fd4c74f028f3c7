package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RunCommandTest {
    @TempDir
    Path dir;

    @AfterEach
    void restore() {
        PlanCommand.environment = System.getenv();
    }

    private Path data() throws Exception {
        Path f = dir.resolve("d.jsonl");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            b.append("[").append("1, ".repeat(i % 7)).append(i).append("]\n");
        }
        Files.writeString(f, b);
        return f;
    }

    @Test
    void jsonStatsContract() throws Exception {
        PlanCommand.environment = Map.of();
        PlanCommandTest.Result r = run("run", "--input", data().toString(), "--batch-size", "10", "--format", "json",
                "--epochs", "2", "--backend", "java");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        for (String f : new String[] {"samples", "tokens", "batches", "samples_per_s", "tokens_per_s", "padding_ratio",
                "bytes_moved", "staging_bytes", "wait_s", "backend"}) {
            assertTrue(j.has(f), "missing " + f + " in " + r.out());
        }
        assertEquals(200, j.get("samples").asLong());
        assertEquals(20, j.get("batches").asLong());
        long tokens = 0;
        for (int i = 0; i < 100; i++) {
            tokens += i % 7 + 1;
        }
        assertEquals(2 * tokens, j.get("tokens").asLong());
        assertEquals("java", j.get("backend").asText());
        double ratio = j.get("padding_ratio").asDouble();
        assertTrue(ratio > 0 && ratio < 1, "padding ratio " + ratio);
    }

    @Test
    void textRunPrintsThePlanAndTheTable() throws Exception {
        PlanCommand.environment = Map.of();
        PlanCommandTest.Result r = run("run", "--input", data().toString(), "--global-batch-size", "20",
                "--world-size", "2", "--rank", "1", "--bucket", "2", "--pack", "--maxlen", "8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("plan:     2 ranks"), r.out());
        assertTrue(r.out().contains("packed rows"), r.out());
        assertTrue(r.out().contains("tokens/s"), r.out());
        assertTrue(r.err().contains("progress: 5/5 batches (100%)"), r.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "--epochs 0",
            "--batch-size 0",
            "--shuffle",
            "--seed 4",
            "--pack",
            "--bucket -1",
            "--prefetch 0",
            "--backend tpu",
            "--world-size 2 --rank 2",
            "--batch-size 7",                  // 100 samples: needs --last-batch
    })
    void invalidArgumentsExitTwo(String line) throws Exception {
        PlanCommand.environment = Map.of();
        String[] extra = line.split(" ");
        String[] args = new String[3 + extra.length + (line.contains("--batch-size") ? 0 : 2)];
        int i = 0;
        args[i++] = "run";
        args[i++] = "--input";
        args[i++] = data().toString();
        if (!line.contains("--batch-size")) {
            args[i++] = "--batch-size";
            args[i++] = "10";
        }
        for (String e : extra) {
            args[i++] = e;
        }
        PlanCommandTest.Result r = run(args);
        assertEquals(2, r.code(), line + " -> " + r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    /** 10 samples of lengths 1..3; sample {@code bad} holds {@code value} at its last timestep. */
    private Path withValue(int bad, long value) throws Exception {
        Path f = dir.resolve("v.jsonl");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            int n = 1 + i % 3;
            b.append("[");
            for (int t = 0; t < n; t++) {
                b.append(t == 0 ? "" : ", ").append(i == bad && t == n - 1 ? value : t + 1);
            }
            b.append("]\n");
        }
        Files.writeString(f, b);
        return f;
    }

    @ParameterizedTest
    @ValueSource(strings = {"text", "json"})
    void aValueThatDoesNotFitTheDtypeIsExitTwoBeforeAnythingIsPrinted(String format) throws Exception {
        PlanCommand.environment = Map.of();
        // sample 8 is in step 4 of 5: the header must not be out before the loader gets there
        PlanCommandTest.Result r = run("run", "--input", withValue(8, 300).toString(), "--batch-size", "2",
                "--dtype", "int8", "--format", format, "--backend", "java");
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("cubatch run: "), r.err());
        assertTrue(r.err().contains("sample 8") && r.err().contains("value 300 does not fit int8 (integers in [-128, 127])")
                && r.err().contains("choose a wider --dtype"), r.err());
        assertFalse(r.err().contains("internal error"), r.err());
    }

    @Test
    void aSequenceLongerThanMaxlenWithoutTruncationIsExitTwoBeforeAnythingIsPrinted() throws Exception {
        PlanCommand.environment = Map.of();
        PlanCommandTest.Result r = run("run", "--input", withValue(-1, 0).toString(), "--batch-size", "2",
                "--maxlen", "2");
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("sample 2 (batch row 0) has 3 timesteps, more than maxlen 2")
                && r.err().contains("--truncating pre|post"), r.err());
        r = run("run", "--input", withValue(-1, 0).toString(), "--batch-size", "2", "--maxlen", "2", "--pack");
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
    }

    @Test
    void valuesTheRunNeverReadsDoNotFailIt() throws Exception {
        PlanCommand.environment = Map.of();
        // sample 9 (3 timesteps, 300 last) is dropped by --last-batch drop (10 = 3 x 3 + 1)
        PlanCommandTest.Result r = run("run", "--input", withValue(9, 300).toString(), "--batch-size", "3",
                "--last-batch", "drop", "--dtype", "int8", "--format", "json");
        assertEquals(0, r.code(), r.err());
        // sample 8 (3 timesteps, 300 last) is truncated to its head by --truncating post
        r = run("run", "--input", withValue(8, 300).toString(), "--batch-size", "2", "--maxlen", "2",
                "--truncating", "post", "--dtype", "int8", "--format", "json");
        assertEquals(0, r.code(), r.err());
        r = run("run", "--input", withValue(8, 300).toString(), "--batch-size", "2", "--maxlen", "2",
                "--truncating", "pre", "--dtype", "int8", "--format", "json");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("value 300 does not fit int8"), r.err());
    }

    @Test
    void yourDataNeedsABatchSize() throws Exception {
        PlanCommandTest.Result r = run("run", "--input", data().toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("the batch size has no default for your data"), r.err());
    }

    @Test
    void infoListsTheBackendsAndTheGpu() {
        PlanCommandTest.Result r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend java:   available"), r.out());
        io.cubatch.cuda.Cuda.Availability a = io.cubatch.cuda.Cuda.availability();
        assertTrue(r.out().contains(a.available() ? "backend cuda:   available"
                : "backend cuda:   unavailable: " + a.reason()), r.out());
        assertTrue(r.out().contains(a.available() ? "gpu:     0: " + a.devices().get(0).name()
                : "gpu:     none usable: " + a.reason()), r.out());
        assertTrue(r.out().contains("kernels:"), r.out());
    }

    @org.junit.jupiter.api.Test
    void deviceModeWithoutAGpuIsExitCode3WithTheReason() {
        io.cubatch.cuda.Cuda.Availability a = io.cubatch.cuda.Cuda.availability();
        org.junit.jupiter.api.Assumptions.assumeFalse(a.available(), "a GPU is usable here: CudaCliTest covers --device");
        for (String[] args : new String[][] {{"run", "--device", "0"}, {"run", "--resident"}, {"run", "--backend", "cuda"}}) {
            PlanCommandTest.Result r = PlanCommandTest.run(args);
            org.junit.jupiter.api.Assertions.assertEquals(3, r.code(), String.join(" ", args) + ": " + r.err());
            org.junit.jupiter.api.Assertions.assertEquals("run: device mode needs a usable GPU: " + a.reason(),
                    r.err().strip());
            org.junit.jupiter.api.Assertions.assertEquals("", r.out());
        }
    }

    /** A ring larger than the memory here is refused before any slot is allocated (issue 14, item 13). */
    @org.junit.jupiter.api.Test
    void aRingLargerThanTheMemoryIsExitCode2BeforeAllocating() {
        long t0 = System.nanoTime();
        PlanCommandTest.Result r = PlanCommandTest.run("run", "--prefetch", "100000000");
        org.junit.jupiter.api.Assertions.assertEquals(2, r.code(), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(r.err().startsWith("cubatch run: a ring of 100000000 slots for batches"
                + " up to [32, 2048] int32 (327948 bytes each) needs 32794800000000 bytes"), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(r.err().contains("lower prefetch (CLI --prefetch)"), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "refused only after work");
        r = PlanCommandTest.run("run", "--maxlen", "9223372036854775807", "--pad-to-multiple-of", "10", "--truncating",
                "post");
        org.junit.jupiter.api.Assertions.assertEquals(2, r.code(), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(r.err().contains("rounded up to a multiple of 10 overflows 64 bits"), r.err());
    }
}
