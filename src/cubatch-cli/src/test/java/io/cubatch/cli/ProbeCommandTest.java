package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cubatch.cuda.Cuda;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class ProbeCommandTest {

    @Test
    void badArgumentsAreExitCode2BeforeAnyGpuIsNeeded() {
        PlanCommandTest.Result r = PlanCommandTest.run("probe", "--maxlen", "64", "--margin", "0.95");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cubatch probe: --margin 0.95: out of range: expected a number in [0, 0.9]"), r.err());
        r = PlanCommandTest.run("probe", "--maxlen", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cubatch probe: --maxlen 0: out of range: expected an integer in [1, 9223372036854775807]"), r.err());
        r = PlanCommandTest.run("probe", "--maxlen", "8", "--dtype", "int7");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cubatch probe: --dtype int7: not a dtype: expected one of bool, int8"), r.err());
    }

    @Test
    void withoutAGpuTheExitCodeIs3AndTheReasonIsPrinted() {
        Cuda.Availability a = Cuda.availability();
        Assumptions.assumeFalse(a.available(), "this machine has a GPU: the GPU test below covers probe");
        PlanCommandTest.Result r = PlanCommandTest.run("probe", "--maxlen", "64");
        assertEquals(3, r.code());
        assertEquals("probe: no usable GPU: " + a.reason(), r.err().strip());
        assertEquals("", r.out());
    }

    @Tag("gpu")
    @Test
    void onAGpuTheJsonNamesTheLargestBatchAndEveryTrial() throws Exception {
        Cuda.Availability a = Cuda.availability();
        Assumptions.assumeTrue(a.available(), () -> "no usable GPU: " + a.reason());
        PlanCommandTest.Result r = PlanCommandTest.run("probe", "--maxlen", "2048", "--format", "json", "--step", "none",
                "--margin", "0.1");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        long largest = j.get("largest_batch_size").asLong();
        assertTrue(largest > 0, r.out());
        assertEquals(2048, j.get("length").asLong());
        JsonNode trials = j.get("trials");
        assertTrue(trials.size() > 2);
        boolean sawLargest = false;
        for (JsonNode t : trials) {
            long b = t.get("batch_size").asLong();
            assertEquals(b <= largest, t.get("fits").asBoolean(), "trial " + t);
            sawLargest |= b == largest;
        }
        assertTrue(sawLargest);
    }
}
