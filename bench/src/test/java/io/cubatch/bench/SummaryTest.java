package io.cubatch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cubatch.store.DType;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark outputs' shape (the numbers themselves come from JMH runs, never from unit tests). */
class SummaryTest {
    static final List<Summary.Row> ROWS = List.of(
            new Summary.Row("pad/lognormal/int32", Summary.CEILING, 64, 30.0, 1.0, 10, 1000, 2e6),
            new Summary.Row("pad/lognormal/int32", "java", 64, 15.0, 0.5, 0, 2000, 1e6),
            new Summary.Row("pad/lognormal/int32", "java", 256, 16.0, 0.55, 0, 8000, 4e6),
            new Summary.Row("plan", "plan", 64, Double.NaN, Double.NaN, 512, 3000, 0));

    @Test
    void jsonHasTheContractFieldsAndNullsWhereNothingApplies() throws Exception {
        StringWriter w = new StringWriter();
        Summary.writeJson(Summary.machine(), ROWS, w);
        JsonNode j = new ObjectMapper().readTree(w.toString());
        assertTrue(j.get("machine").has("jdk") && j.get("machine").has("cpus") && j.get("machine").has("date"));
        JsonNode row = j.get("rows").get(1);
        for (String f : new String[] {"workload", "backend", "batch_size", "gbps", "ratio_to_ceiling", "alloc_bytes_per_batch",
                "offheap_bytes_held"}) {
            assertTrue(row.has(f), f);
        }
        assertEquals(15.0, row.get("gbps").asDouble());
        assertTrue(j.get("rows").get(3).get("gbps").isNull());
    }

    @Test
    void writesSummaryMarkdownAndAPngChart(@TempDir Path dir) throws Exception {
        Summary.write(dir, Summary.machine(), ROWS);
        assertTrue(Files.readString(dir.resolve("summary.md")).contains("| pad/lognormal/int32    | java"));
        byte[] png = Files.readAllBytes(dir.resolve("chart.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertTrue(Files.exists(dir.resolve("summary.json")));
    }

    /** The committed run's jmh.json reads back into rows with ratios; peers add theirs against the same ceilings. */
    @Test
    void summarizesASavedJmhRunWithPeers(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("jmh.json"), """
                [{"benchmark": "io.cubatch.bench.CeilingBenchmark.copyAndFill", "params": {"batchSize": "8",
                  "distribution": "bimodal", "dtype": "int32"}, "primaryMetric": {"score": 1000000.0},
                  "secondaryMetrics": {"gc.alloc.rate.norm": {"score": 0.5}}},
                 {"benchmark": "io.cubatch.bench.PadBenchmark.pad", "params": {"batchSize": "8",
                  "distribution": "bimodal", "dtype": "int32", "backend": "native"}, "primaryMetric": {"score": 500000.0},
                  "secondaryMetrics": {}}]""");
        Files.writeString(dir.resolve("peers.json"), """
                {"rows": [{"workload": "pad/bimodal/int32", "backend": "torch-pad_sequence", "batch_size": 8, "gbps": 1.0}]}""");
        List<Summary.Row> rows = Summary.withPeers(Summary.rowsOf(Summary.readJmhJson(dir.resolve("jmh.json"))),
                dir.resolve("peers.json"));
        assertEquals(3, rows.size());
        Summary.Row ceiling = rows.stream().filter(r -> r.backend().equals(Summary.CEILING)).findFirst().orElseThrow();
        Summary.Row nat = rows.stream().filter(r -> r.backend().equals("native")).findFirst().orElseThrow();
        Summary.Row torch = rows.stream().filter(r -> r.backend().startsWith("torch")).findFirst().orElseThrow();
        assertEquals(0.5, nat.ratioToCeiling(), 1e-9);
        assertEquals(1.0 / ceiling.gbps(), torch.ratioToCeiling(), 1e-9);
        assertTrue(Double.isNaN(nat.allocBytesPerBatch()));
        try (Workload w = new Workload("bimodal", 8, DType.INT32)) {
            assertEquals(1_000_000 * w.averageOutputBytes() / 1e9, ceiling.gbps(), 1e-9);
            assertEquals(w.maxOutputBytes() + 8 * 8 + 16, nat.offheapBytesHeld(), 1e-9);
        }
    }

    @Test
    void workloadsAreDeterministicAndCountTheirBytes() {
        try (Workload a = new Workload("bimodal", 8, DType.FLOAT16); Workload b = new Workload("bimodal", 8, DType.FLOAT16)) {
            for (int k = 0; k < Workload.BATCHES; k++) {
                assertEquals(java.util.Arrays.toString(a.batches[k]), java.util.Arrays.toString(b.batches[k]));
                long longest = 0;
                long real = 0;
                for (long i : a.batches[k]) {
                    longest = Math.max(longest, a.store.length(i));
                    real += a.store.length(i);
                }
                assertEquals(real * 2, a.realBytes[k]);
                assertEquals((longest * 8 - real) * 2, a.padBytes[k]);
                assertEquals(longest * 8 * 2 + 32 + longest * 8, a.outputBytes[k]);
            }
        }
    }
}
