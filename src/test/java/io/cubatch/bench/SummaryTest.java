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
            new Summary.Row("pad/lognormal/int32", Summary.CEILING, 64, 30.0, 1.0, 10, 1000),
            new Summary.Row("pad/lognormal/int32", "java", 64, 15.0, 0.5, 0, 2000),
            new Summary.Row("pad/lognormal/int32", "java", 256, 16.0, 0.55, 0, 8000),
            new Summary.Row("plan", "plan", 64, Double.NaN, Double.NaN, 512, 3000));

    @Test
    void jsonHasTheContractFieldsAndNullsWhereNothingApplies() throws Exception {
        StringWriter w = new StringWriter();
        Summary.writeJson(Summary.machine(), ROWS, w);
        JsonNode j = new ObjectMapper().readTree(w.toString());
        assertTrue(j.get("machine").has("jdk") && j.get("machine").has("cpus") && j.get("machine").has("date"));
        JsonNode row = j.get("rows").get(1);
        for (String f : new String[] {"workload", "backend", "batch_size", "gbps", "ratio_to_ceiling", "alloc_bytes_per_batch"}) {
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
