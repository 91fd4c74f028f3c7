package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class InfoCommandTest {
    static Path resource(String name) throws URISyntaxException {
        return Path.of(InfoCommandTest.class.getResource(name).toURI());
    }

    @Test
    void describesAMegatronDataset() throws Exception {
        Path idx = resource("/fixtures/tiny.idx");
        String prefix = idx.toString().replaceAll("\\.idx$", "");
        PlanCommandTest.Result r = run("info", "--input", prefix, "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("megatron", j.get("format").asText());
        assertEquals("uint16", j.get("dtype").asText());
        assertEquals(4, j.get("samples").asInt());
        assertEquals(2, j.get("documents").asInt());
        assertEquals(0, j.get("min_length").asInt());
        assertEquals(1, j.get("median_length").asInt());
        assertEquals(3, j.get("max_length").asInt());
        assertEquals(6, j.get("total_tokens").asInt());
    }

    @Test
    void describesNpyAsText() throws Exception {
        PlanCommandTest.Result r = run("info", "--input", resource("/fixtures/features_f4.npy").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("dtype:         float32"), r.out());
        assertTrue(r.out().contains("shape:         fixed, timestep [4]"), r.out());
        assertTrue(r.out().contains("total tokens:  6"), r.out());
    }

    @Test
    void badOrMissingFilesExitTwoNamingThem() throws Exception {
        PlanCommandTest.Result r = run("info", "--input", resource("/bad/npy_truncated_data.npy").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("npy_truncated_data.npy at byte 128"), r.err());
        r = run("info", "--input", "/no/such/data.npy");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such file: /no/such/data.npy"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        r = run("info", "--input", "/no/such/prefix");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no Megatron pair"), r.err());
    }

    @Test
    void withoutInputDescribesTheMachine() {
        PlanCommandTest.Result r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("jdk:"), r.out());
    }

    @Test
    void withoutInputJsonDescribesTheMachineAsJson() throws Exception {
        PlanCommandTest.Result r = run("info", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        JsonNode backends = j.get("backends");
        assertEquals(3, backends.size(), r.out());
        for (JsonNode b : backends) {
            assertTrue(b.get("name").isTextual(), b.toString());
            assertTrue(b.get("available").isBoolean(), b.toString());
            assertTrue(b.get("available").asBoolean() ? b.get("reason").isNull() : !b.get("reason").asText().isBlank(),
                    b.toString());
        }
        JsonNode java = backends.findParents("name").stream().filter(b -> b.get("name").asText().equals("java"))
                .findFirst().orElseThrow();
        assertTrue(java.get("available").asBoolean());
        assertTrue(j.get("kernels").get("packaged").isBoolean(), r.out());
        assertTrue(j.get("kernels").get("description").isTextual(), r.out());
        io.cubatch.cuda.Cuda.Availability a = io.cubatch.cuda.Cuda.availability();
        assertEquals(a.available(), j.get("cuda").get("available").asBoolean(), r.out());
        assertEquals(a.devices().size(), j.get("cuda").get("devices").size(), r.out());
        assertEquals(a.available() ? null : a.reason(), j.get("cuda").get("reason").textValue(), r.out());
        assertEquals(Runtime.version().toString(), j.get("jdk").get("version").asText());
        assertEquals(System.getProperty("os.arch"), j.get("os").get("arch").asText());
        assertEquals(Runtime.getRuntime().availableProcessors(), j.get("cpus").asInt());
        assertEquals(Runtime.getRuntime().maxMemory(), j.get("memory").get("max_heap_bytes").asLong());
    }

    @Test
    void withoutInputTextStaysText() {
        PlanCommandTest.Result r = run("info", "--format", "text");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("backend "), r.out());
        assertTrue(r.out().contains("memory: "), r.out());
    }

    /** `cubatch info` lists the fatbin's architectures (text and JSON), as the build recorded them. */
    @Test
    void listsTheFatbinsArchitectures() throws Exception {
        PlanCommandTest.Result text = run("info");
        PlanCommandTest.Result json = run("info", "--format", "json");
        assertEquals(0, json.code(), json.err());
        JsonNode k = new ObjectMapper().readTree(json.out()).get("kernels");
        if (!io.cubatch.cuda.Cuda.kernelsPackaged()) {
            assertEquals(0, k.get("sass").size(), json.out());
            assertTrue(k.get("ptx").isNull(), json.out());
            assertTrue(text.out().contains("kernels: not built: "), text.out());
            return;
        }
        io.cubatch.cuda.KernelArchitectures archs = io.cubatch.cuda.KernelArchitectures.packaged().orElseThrow();
        assertTrue(text.out().contains("kernels: cubatch.fatbin packaged: SASS sm_75, "), text.out());
        assertTrue(text.out().contains("PTX compute_" + archs.ptx()), text.out());
        assertEquals("sm_75", k.get("sass").get(0).asText(), json.out());
        assertEquals(archs.sass().size(), k.get("sass").size(), json.out());
        assertEquals("compute_" + archs.ptx(), k.get("ptx").asText(), json.out());
    }
}
