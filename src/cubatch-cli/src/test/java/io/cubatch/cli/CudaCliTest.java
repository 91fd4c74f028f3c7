package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cubatch.cuda.Cuda;
import io.cubatch.cuda.GpuTestSupport;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI with the cuda backend, on a GPU or under the CUDA driver emulator: {@code info} lists the device,
 * and {@code pad --backend cuda} prints exactly what {@code --backend java} prints (or the same error, with
 * the same exit code) for every input of a corpus: JSONL with random lengths, values at and past the dtype
 * limits, NaN and infinities, features; the NumPy and Megatron fixtures; across padding and truncation sides,
 * maxlen, multiples, pad values, output dtypes and positions, in JSON and .npy.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class CudaCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void infoListsTheCudaBackendAndTheDevices() {
        PlanCommandTest.Result r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend cuda:   available"), r.out());
        for (Cuda.Device d : Cuda.availability().devices()) {
            assertTrue(r.out().contains(d.ordinal() + ": " + d.name()), r.out());
        }
    }

    private static Path fixture(String name) {
        try {
            return Path.of(CudaCliTest.class.getResource("/fixtures/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private List<Path> corpus() throws IOException {
        List<Path> inputs = new ArrayList<>();
        SplittableRandom rng = new SplittableRandom(20261202);
        String[] specials = {"0", "1", "-1", "127", "128", "255", "256", "-129", "32767", "65535", "65536",
            "2147483647", "-2147483648", "1e300", "-0.0", "0.5", "65504", "65520", "3.4e38"};
        for (int f = 0; f < 6; f++) {
            StringBuilder text = new StringBuilder();
            int rows = 1 + rng.nextInt(9);
            int features = f % 3 == 2 ? 1 + rng.nextInt(3) : 0;
            boolean floats = f % 2 == 1;
            for (int r = 0; r < rows; r++) {
                int len = rng.nextInt(12);
                List<String> steps = new ArrayList<>();
                for (int t = 0; t < len; t++) {
                    if (features == 0) {
                        steps.add(value(rng, floats, specials));
                    } else {
                        List<String> v = new ArrayList<>();
                        for (int k = 0; k < features; k++) {
                            v.add(value(rng, floats, specials));
                        }
                        steps.add("[" + String.join(", ", v) + "]");
                    }
                }
                text.append('[').append(String.join(", ", steps)).append("]\n");
            }
            Path p = dir.resolve("corpus" + f + ".jsonl");
            Files.writeString(p, text);
            inputs.add(p);
        }
        for (String name : new String[] {"arange_int32.npy", "arange_float16.npy", "arange_bool.npy",
            "arange_uint16.npy", "special_f4.npy", "features_f4.npy", "vector_i8.npy"}) {
            inputs.add(fixture(name));
        }
        inputs.add(Path.of(fixture("tiny.idx").toString().replaceAll("\\.idx$", "")));
        return inputs;
    }

    private static String value(SplittableRandom rng, boolean floats, String[] specials) {
        if (rng.nextInt(4) == 0) {
            return specials[rng.nextInt(specials.length)];
        }
        return floats ? String.format(Locale.ROOT, "%.3f", rng.nextDouble(-300, 300)) : Integer.toString(rng.nextInt(-50, 300));
    }

    @Test
    void padWithCudaPrintsWhatJavaPrintsForEveryInput() throws IOException {
        SplittableRandom rng = new SplittableRandom(7);
        String[] dtypes = {"int8", "uint8", "int16", "uint16", "int32", "int64", "float16", "bfloat16", "float32",
            "float64", "bool"};
        int compared = 0;
        int errors = 0;
        for (Path input : corpus()) {
            for (int k = 0; k < 12; k++) {
                List<String> args = new ArrayList<>(List.of("pad", "--input", input.toString(), "--padding",
                        rng.nextBoolean() ? "pre" : "post", "--dtype", dtypes[rng.nextInt(dtypes.length)]));
                if (rng.nextBoolean()) {
                    args.addAll(List.of("--maxlen", Integer.toString(1 + rng.nextInt(8))));
                }
                if (rng.nextInt(3) > 0) {
                    args.addAll(List.of("--truncating", rng.nextBoolean() ? "pre" : "post"));
                }
                if (rng.nextInt(3) == 0) {
                    args.addAll(List.of("--pad-to-multiple-of", Integer.toString(1 + rng.nextInt(8))));
                }
                if (rng.nextInt(3) == 0) {
                    args.addAll(List.of("--value", Integer.toString(rng.nextInt(-2, 3))));
                }
                if (rng.nextBoolean()) {
                    args.add("--positions");
                }
                PlanCommandTest.Result java = run(with(args, "--backend", "java"));
                PlanCommandTest.Result cuda = run(with(args, "--backend", "cuda"));
                String what = String.join(" ", args);
                assertEquals(java.code(), cuda.code(), what + "\njava: " + java.err() + "\ncuda: " + cuda.err());
                if (java.code() != 0) {
                    assertEquals(java.err(), cuda.err(), what);
                    errors++;
                    continue;
                }
                assertEquals(withoutBackend(java.out()), withoutBackend(cuda.out()), what);
                compared++;
            }
        }
        assertTrue(compared > 80 && errors > 5, compared + " outputs compared, " + errors + " errors compared");
    }

    @Test
    void npyOutputIsByteIdentical() throws IOException {
        Path in = dir.resolve("in.jsonl");
        Files.writeString(in, "[1, 2, 3, 4, 5]\n[6]\n[]\n[7, 8]\n");
        for (String backend : new String[] {"java", "cuda"}) {
            PlanCommandTest.Result r = run("pad", "--input", in.toString(), "--padding", "pre", "--maxlen", "4",
                    "--truncating", "post", "--dtype", "float16", "--positions", "--format", "npy", "--output",
                    dir.resolve(backend + ".npy").toString(), "--backend", backend);
            assertEquals(0, r.code(), r.err());
        }
        for (String part : new String[] {"", ".lengths", ".attention_mask", ".position_ids"}) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("java" + part + ".npy")),
                    Files.readAllBytes(dir.resolve("cuda" + part + ".npy")), part);
        }
    }

    @Test
    void runWithTheCudaBackendCollatesAnEpoch() throws Exception {
        Path in = dir.resolve("in.jsonl");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            text.append("[").append("1, ".repeat(i % 7)).append("2]\n");
        }
        Files.writeString(in, text);
        String[] common = {"run", "--input", in.toString(), "--batch-size", "8", "--last-batch", "partial",
            "--padding", "post", "--dtype", "int32", "--format", "json"};
        JsonNode java = JSON.readTree(run(with(List.of(common), "--backend", "java")).out());
        PlanCommandTest.Result r = run(with(List.of(common), "--backend", "cuda"));
        assertEquals(0, r.code(), r.err());
        JsonNode cuda = JSON.readTree(r.out());
        assertEquals("cuda", cuda.get("backend").asText());
        for (String field : new String[] {"samples", "tokens", "batches", "padding_ratio"}) {
            assertEquals(java.get(field), cuda.get(field), field);
        }
    }

    /** Device mode end to end: only real tokens and offsets cross PCIe, nothing comes back. */
    @Test
    void runOnTheDeviceSendsOnlyRealTokensAndOffsets() throws Exception {
        Path in = dir.resolve("seqs.jsonl");
        StringBuilder text = new StringBuilder();
        SplittableRandom rng = new SplittableRandom(11);
        long tokens = 0;
        int samples = 300;
        for (int i = 0; i < samples; i++) {
            int len = 1 + rng.nextInt(60);
            tokens += len;
            List<String> v = new ArrayList<>();
            for (int t = 0; t < len; t++) {
                v.add(Integer.toString(rng.nextInt(1000)));
            }
            text.append('[').append(String.join(", ", v)).append("]\n");
        }
        Files.writeString(in, text);
        int device = Cuda.availability().devices().size() - 1;
        PlanCommandTest.Result r = run("run", "--input", in.toString(), "--batch-size", "16", "--last-batch", "partial",
                "--padding", "post", "--dtype", "int32", "--device", Integer.toString(device), "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(device, j.get("device").asInt());
        assertEquals(0, j.get("d2h_bytes").asLong());
        long batches = j.get("batches").asLong();
        assertEquals(19, batches);
        long tokenAndOffsetBytes = 8 * tokens + 8 * (samples + batches);   // JSONL integers are int64
        assertEquals(tokenAndOffsetBytes, j.get("h2d_bytes").asLong(), "h2d bytes: exactly tokens + offsets");
        assertEquals(16 * batches, j.get("d2h_status_bytes").asLong());
        assertTrue(j.get("device_ms_per_batch").isNumber() && j.get("device_ms_per_batch").asDouble() >= 0,
                j.toString());
        assertTrue(j.get("stall_s").isNumber() && j.get("stall_s").asDouble() >= 0, j.toString());

        r = run("run", "--input", in.toString(), "--batch-size", "16", "--last-batch", "partial", "--padding", "post",
                "--dtype", "int32", "--resident", "--format", "json");
        assertEquals(0, r.code(), r.err());
        j = JSON.readTree(r.out());
        assertEquals(8L * samples, j.get("h2d_bytes").asLong(), "resident: only the indices travel");
        assertEquals(0, j.get("d2h_bytes").asLong());

        r = run("run", "--input", in.toString(), "--batch-size", "16", "--last-batch", "partial", "--padding", "post",
                "--device", "99");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("device 99 does not exist"), r.err());
        r = run("run", "--input", in.toString(), "--batch-size", "16", "--last-batch", "partial", "--padding", "post",
                "--device", "0", "--backend", "java");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--backend java runs on the host"), r.err());
    }

    @Test
    void runWithSeveralDevicesReportsEveryRank() throws Exception {
        int gpus = Cuda.availability().devices().size();
        String list = gpus > 1 ? "0,1" : "0,0";
        Path in = dir.resolve("ranks.jsonl");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            text.append("[").append("7, ".repeat(i % 40)).append("1]\n");
        }
        Files.writeString(in, text);
        PlanCommandTest.Result r = run("run", "--input", in.toString(), "--batch-size", "16", "--last-batch", "partial", "--devices", list,
                "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(2, j.get("world_size").asInt());
        assertEquals(2, j.get("ranks").size());
        long h2d = 0;
        for (int i = 0; i < 2; i++) {
            JsonNode rank = j.get("ranks").get(i);
            assertEquals(i, rank.get("rank").asInt());
            assertEquals(Integer.parseInt(list.split(",")[i]), rank.get("device").asInt());
            assertEquals(0, rank.get("d2h_bytes").asLong());
            h2d += rank.get("h2d_bytes").asLong();
        }
        assertEquals(h2d, j.get("h2d_bytes").asLong());
        assertEquals(2000, j.get("samples").asLong());
        r = run("run", "--devices", "0", "--device", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--device and --devices both given"), r.err());
    }

    private static String[] with(List<String> args, String... more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static JsonNode withoutBackend(String json) throws IOException {
        ObjectNode n = (ObjectNode) JSON.readTree(json);
        n.remove("backend");
        return n;
    }
}
