package io.cubatch.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.store.DType;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

/**
 * Turns JMH results into rows: GB/s of output per workload and backend, the ratio to the copy + fill
 * ceiling measured in the same run, and bytes allocated per batch ({@code gc.alloc.rate.norm}); writes
 * summary.json, summary.md and chart.png.
 */
public final class Summary {
    public static final String CEILING = "ceiling-copy+fill";

    /**
     * One row; gbps and ratio are NaN where they do not apply (the plan), alloc and off-heap bytes where
     * they were not measured (peers).
     *
     * @param offheapBytesHeld native memory the benchmark holds for this workload: the reused output
     *                         buffer (plus the native backend's index scratch), both buffers of a ceiling
     */
    public record Row(String workload, String backend, int batchSize, double gbps, double ratioToCeiling,
                      double allocBytesPerBatch, double nsPerBatch, double offheapBytesHeld) {
    }

    /** One JMH result, whether from the runner or read back from jmh.json. */
    public record Measurement(String benchmark, Map<String, String> params, double opsPerSecond, double allocPerOp) {
    }

    private Summary() {
    }

    public static List<Row> rows(Collection<RunResult> results) {
        List<Measurement> ms = new ArrayList<>();
        for (RunResult r : results) {
            Map<String, String> params = new HashMap<>();
            for (String key : r.getParams().getParamsKeys()) {
                params.put(key, r.getParams().getParam(key));
            }
            Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            ms.add(new Measurement(r.getParams().getBenchmark(), params, r.getPrimaryResult().getScore(),
                    alloc == null ? Double.NaN : alloc.getScore()));
        }
        return rowsOf(ms);
    }

    /** The measurements of a JMH JSON result file (what {@code --output} saved as jmh.json). */
    public static List<Measurement> readJmhJson(Path jmhJson) throws IOException {
        List<Measurement> ms = new ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode n : new com.fasterxml.jackson.databind.ObjectMapper().readTree(jmhJson.toFile())) {
            Map<String, String> params = new HashMap<>();
            n.path("params").properties().forEach(e -> params.put(e.getKey(), e.getValue().asText()));
            com.fasterxml.jackson.databind.JsonNode alloc = n.path("secondaryMetrics").path("gc.alloc.rate.norm").path("score");
            ms.add(new Measurement(n.get("benchmark").asText(), params, n.path("primaryMetric").path("score").asDouble(),
                    alloc.isMissingNode() ? Double.NaN : alloc.asDouble()));
        }
        return ms;
    }

    public static List<Row> rowsOf(List<Measurement> measurements) {
        Map<String, Workload.Sizes> sizes = new HashMap<>();
        List<Row> raw = new ArrayList<>();
        for (Measurement m : measurements) {
            String bench = m.benchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            String cls = bench.substring(0, bench.lastIndexOf('.'));
            cls = cls.substring(cls.lastIndexOf('.') + 1);
            int b = Integer.parseInt(m.params().get("batchSize"));
            double ns = 1e9 / m.opsPerSecond();
            if (cls.equals("PlanBenchmark")) {
                raw.add(new Row("plan", "plan", b, Double.NaN, Double.NaN, m.allocPerOp(), ns, 0));
                continue;
            }
            String dist = m.params().get("distribution");
            String dtype = cls.equals("NaiveBenchmark") ? "int32" : m.params().get("dtype");
            String workload = "pad/" + dist + "/" + dtype;
            Workload.Sizes size = sizes.computeIfAbsent(workload + "/" + b, key -> {
                try (Workload w = new Workload(dist, b, DType.fromName(dtype).orElseThrow())) {
                    return new Workload.Sizes(w.averageOutputBytes(), w.maxOutputBytes());
                }
            });
            String backend = switch (cls) {
                case "PadBenchmark" -> m.params().get("backend");
                case "NaiveBenchmark" -> "naive-java";
                default -> method.equals("copyAndFill") ? CEILING : "ceiling-memcpy+fill";
            };
            double offheap = switch (backend) {
                case "native" -> size.max() + 8.0 * b + 16;
                case "java" -> size.max();
                case "naive-java" -> 0;
                default -> 2.0 * size.max();
            };
            raw.add(new Row(workload, backend, b, m.opsPerSecond() * size.average() / 1e9, Double.NaN, m.allocPerOp(),
                    ns, offheap));
        }
        return withRatios(raw);
    }

    /** Adds peer rows (bench/peers/pad_peers.py output) to rows that hold the ceilings. */
    public static List<Row> withPeers(List<Row> rows, Path peersJson) throws IOException {
        List<Row> out = new ArrayList<>(rows);
        for (com.fasterxml.jackson.databind.JsonNode r : new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(peersJson.toFile()).path("rows")) {
            out.add(new Row(r.get("workload").asText(), r.get("backend").asText(), r.get("batch_size").asInt(),
                    r.get("gbps").asDouble(), Double.NaN, Double.NaN, Double.NaN, Double.NaN));
        }
        return withRatios(out);
    }

    private static List<Row> withRatios(List<Row> raw) {
        Map<String, Double> ceilings = new HashMap<>();
        for (Row r : raw) {
            if (r.backend().equals(CEILING)) {
                ceilings.put(r.workload() + "/" + r.batchSize(), r.gbps());
            }
        }
        List<Row> out = new ArrayList<>();
        for (Row r : raw) {
            Double c = ceilings.get(r.workload() + "/" + r.batchSize());
            out.add(new Row(r.workload(), r.backend(), r.batchSize(), r.gbps(),
                    c == null || Double.isNaN(r.gbps()) ? Double.NaN : r.gbps() / c, r.allocBytesPerBatch(),
                    r.nsPerBatch(), r.offheapBytesHeld()));
        }
        out.sort(Comparator.comparing(Row::workload).thenComparing(Row::batchSize).thenComparing(Row::backend));
        return out;
    }

    /** The machine the numbers came from. */
    public static Map<String, String> machine() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("date", LocalDate.now().toString());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("arch", System.getProperty("os.arch"));
        m.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
        m.put("cpu", cpuModel());
        m.put("jdk", System.getProperty("java.vm.name") + " " + Runtime.version());
        return m;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return "unknown";
    }

    public static void writeJson(Map<String, String> machine, List<Row> rows, Writer w) throws IOException {
        try (JsonGenerator g = JsonFactory.builder().build().createGenerator(w)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            g.writeObjectFieldStart("machine");
            for (var e : machine.entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeArrayFieldStart("rows");
            for (Row r : rows) {
                g.writeStartObject();
                g.writeStringField("workload", r.workload());
                g.writeStringField("backend", r.backend());
                g.writeNumberField("batch_size", r.batchSize());
                number(g, "gbps", r.gbps());
                number(g, "ratio_to_ceiling", r.ratioToCeiling());
                number(g, "alloc_bytes_per_batch", r.allocBytesPerBatch());
                number(g, "ns_per_batch", r.nsPerBatch());
                number(g, "offheap_bytes_held", r.offheapBytesHeld());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        w.write(System.lineSeparator());
    }

    private static void number(JsonGenerator g, String field, double v) throws IOException {
        if (Double.isNaN(v)) {
            g.writeNullField(field);
        } else {
            g.writeNumberField(field, Math.round(v * 1000) / 1000.0);
        }
    }

    public static String table(List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "| %-22s | %-19s | %5s | %8s | %8s | %12s | %12s | %12s |%n", "workload",
                "backend", "batch", "GB/s", "ceiling", "alloc B/batch", "off-heap B", "ns/batch"));
        b.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %-22s | %-19s | %5d | %8s | %8s | %12s | %12s | %12s |%n", r.workload(),
                    r.backend(), r.batchSize(), fmt(r.gbps(), "%.2f"), fmt(r.ratioToCeiling(), "%.2fx"),
                    fmt(r.allocBytesPerBatch(), "%.0f"), fmt(r.offheapBytesHeld(), "%.0f"), fmt(r.nsPerBatch(), "%.0f")));
        }
        return b.toString();
    }

    private static String fmt(double v, String f) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v);
    }

    /** summary.json, summary.md and chart.png (GB/s vs batch size per backend, lognormal int32). */
    public static void write(Path dir, Map<String, String> machine, List<Row> rows) throws IOException {
        try (Writer w = Files.newBufferedWriter(dir.resolve("summary.json"))) {
            writeJson(machine, rows, w);
        }
        StringBuilder md = new StringBuilder("# cubatch benchmarks\n\n");
        machine.forEach((k, v) -> md.append("- ").append(k).append(": ").append(v).append('\n'));
        md.append("\nGB/s: output bytes (data + lengths + mask) per second. ceiling: the ratio to copying the real")
                .append(" tokens and filling the padding with MemorySegment.copy/fill in the same run.")
                .append(" alloc: bytes allocated on the heap per batch (JMH -prof gc). off-heap: native bytes the")
                .append(" benchmark holds (the reused output buffer; both buffers for a ceiling). Peer rows come from")
                .append(" bench/peers/pad_peers.py (peers.json), measured on the same machine.\n\n");
        md.append(table(rows));
        Files.writeString(dir.resolve("summary.md"), md);
        Chart.write(dir.resolve("chart.png"), rows, "pad/lognormal/int32");
    }
}
