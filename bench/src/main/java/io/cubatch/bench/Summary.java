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

    /** One row; gbps and ratio are NaN for rows they do not apply to (the plan). */
    public record Row(String workload, String backend, int batchSize, double gbps, double ratioToCeiling,
                      double allocBytesPerBatch, double nsPerBatch) {
    }

    private Summary() {
    }

    public static List<Row> rows(Collection<RunResult> results) {
        Map<String, Double> outputBytes = new HashMap<>();
        List<Row> raw = new ArrayList<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            String cls = bench.substring(0, bench.lastIndexOf('.'));
            cls = cls.substring(cls.lastIndexOf('.') + 1);
            int b = Integer.parseInt(r.getParams().getParam("batchSize"));
            double opsPerSecond = r.getPrimaryResult().getScore();
            Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            double allocPerOp = alloc == null ? Double.NaN : alloc.getScore();
            double ns = 1e9 / opsPerSecond;
            if (cls.equals("PlanBenchmark")) {
                raw.add(new Row("plan", "plan", b, Double.NaN, Double.NaN, allocPerOp, ns));
                continue;
            }
            String dist = r.getParams().getParam("distribution");
            String dtype = cls.equals("NaiveBenchmark") ? "int32" : r.getParams().getParam("dtype");
            String workload = "pad/" + dist + "/" + dtype;
            double bytes = outputBytes.computeIfAbsent(workload + "/" + b, key -> {
                try (Workload w = new Workload(dist, b, DType.fromName(dtype).orElseThrow())) {
                    return w.averageOutputBytes();
                }
            });
            String backend = switch (cls) {
                case "PadBenchmark" -> r.getParams().getParam("backend");
                case "NaiveBenchmark" -> "naive-java";
                default -> method.equals("copyAndFill") ? CEILING : "ceiling-memcpy+fill";
            };
            raw.add(new Row(workload, backend, b, opsPerSecond * bytes / 1e9, Double.NaN, allocPerOp, ns));
        }
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
                    c == null || Double.isNaN(r.gbps()) ? Double.NaN : r.gbps() / c, r.allocBytesPerBatch(), r.nsPerBatch()));
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
        b.append(String.format(Locale.ROOT, "| %-22s | %-19s | %5s | %8s | %8s | %12s | %12s |%n", "workload", "backend",
                "batch", "GB/s", "ceiling", "alloc B/batch", "ns/batch"));
        b.append("|---|---|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %-22s | %-19s | %5d | %8s | %8s | %12s | %12.0f |%n", r.workload(),
                    r.backend(), r.batchSize(), fmt(r.gbps(), "%.2f"), fmt(r.ratioToCeiling(), "%.2fx"),
                    fmt(r.allocBytesPerBatch(), "%.0f"), r.nsPerBatch()));
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
                .append(" alloc: bytes allocated on the heap per batch (JMH -prof gc).\n\n");
        md.append(table(rows));
        Files.writeString(dir.resolve("summary.md"), md);
        Chart.write(dir.resolve("chart.png"), rows, "pad/lognormal/int32");
    }
}
