package io.cubatch.cli;

import io.cubatch.bench.Summary;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch bench}: the JMH benchmarks, quick (under a minute) or full, with the ceiling measured in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure padding throughput of each backend against the honest ceiling of the same run (JMH).",
                "Quick by default (steady state, batch 64 and 256, log-normal lengths, 2 forks; indicative);",
                "--full runs the older sweep (PadBenchmark, CeilingBenchmark, naive, plan); the full honest run",
                "is bench/run-cpu.sh."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments, 1 a benchmark failed."})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--full", description = "Every parameter, longer iterations (several minutes).")
    boolean full;

    @Option(names = "--output", paramLabel = "DIR",
            description = "Write jmh.json, jmh.log, summary.json, summary.md and chart.png into DIR (created).")
    Path output;

    @Option(names = "--summarize", paramLabel = "DIR",
            description = "Run nothing: rebuild DIR's summary.json, summary.md and chart.png from DIR/jmh.json"
                    + " (and DIR/peers.json when present).")
    Path summarize;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PlanCommand.Format format;

    /** JVM flags of the benchmark forks: native access for libcubatch, a fixed heap, no Unsafe warnings. */
    static String[] forkFlags() {
        return Runtime.version().feature() >= 24
                ? new String[] {"--enable-native-access=ALL-UNNAMED", "-Xmx2g", "--sun-misc-unsafe-memory-access=allow"}
                : new String[] {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"};
    }

    @Override
    public Integer call() throws Exception {
        if (summarize != null) {
            Path jmh = summarize.resolve("jmh.json");
            if (!Files.isRegularFile(jmh)) {
                throw new IllegalArgumentException("--summarize " + summarize + ": no jmh.json there; it is written by"
                        + " cubatch bench --output DIR");
            }
            List<Summary.Row> rows = Summary.rowsOf(Summary.readJmhJson(jmh));
            Path peers = summarize.resolve("peers.json");
            if (Files.isRegularFile(peers)) {
                rows = Summary.withPeers(rows, peers);
            }
            Map<String, String> machine = Summary.machine();
            machine.put("date", "measured " + Files.getLastModifiedTime(jmh).toString().substring(0, 10)
                    + ", summarized " + machine.get("date"));
            Summary.write(summarize, machine, rows);
            print(machine, rows);
            return Main.EXIT_OK;
        }
        Path dir = output;
        if (dir != null) {
            if (Files.exists(dir) && !Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--output " + dir + " is not a directory (a file or a device is"
                        + " there): bench writes jmh.json, jmh.log, summary.json, summary.md and chart.png into a"
                        + " directory; name one (it is created when absent)");
            }
            try {
                Files.createDirectories(dir);
            } catch (java.nio.file.AccessDeniedException e) {
                throw e;
            } catch (IOException e) {
                throw new IllegalArgumentException("--output " + dir + ": cannot create the directory: "
                        + e.getMessage() + "; name a directory bench can create", e);
            }
        }
        Path log = dir != null ? dir.resolve("jmh.log") : Files.createTempFile("cubatch-jmh", ".log");
        if (!full) {
            return quick(dir, log);
        }
        ChainedOptionsBuilder o = new OptionsBuilder()
                .include("io\\.cubatch\\.bench\\.(Pad|Ceiling|Naive|Plan)Benchmark")
                .forks(1)
                .jvmArgsAppend(forkFlags())
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true)
                .output(log.toString());
        o.warmupIterations(2).warmupTime(TimeValue.milliseconds(500))
                .measurementIterations(3).measurementTime(TimeValue.milliseconds(700));
        if (dir != null) {
            o.resultFormat(ResultFormatType.JSON).result(dir.resolve("jmh.json").toString());
        }
        PrintWriter err = spec.commandLine().getErr();
        err.printf("cubatch bench: running the full benchmarks (JMH log: %s) ...%n", log);
        err.flush();
        Collection<RunResult> results = new Runner(o.build()).run();
        List<Summary.Row> rows = Summary.rows(results);
        Map<String, String> machine = Summary.machine();
        if (dir != null) {
            Summary.write(dir, machine, rows);
        }
        print(machine, rows);
        return Main.EXIT_OK;
    }

    /** The quick run's JMH iterations, per fork. */
    private static final int QUICK_WARMUPS = 3;
    private static final int QUICK_WARMUP_MS = 1000;
    private static final int QUICK_ITERATIONS = 2;
    private static final int QUICK_ITERATION_MS = 500;

    /**
     * The quick run: HonestBenchmark (steady state, int32, batch 64 and 256), the backends and both honest
     * ceilings in the same run, two forks each, so the spread between forks shows. Indicative only.
     */
    private Integer quick(Path dir, Path log) throws Exception {
        ChainedOptionsBuilder o = new OptionsBuilder()
                .include("io\\.cubatch\\.bench\\.HonestBenchmark")
                .param("regime", "steady").param("batchSize", "64", "256").param("src", "int32").param("dtype", "int32")
                .forks(2)
                .jvmArgsAppend(forkFlags())
                .shouldFailOnError(true)
                .output(log.toString())
                // warmup: the java backend at batch 256 is still being compiled in a fork's first seconds (its copy
                // loop's profiled predicates trap a few times before C2 settles); on a 2-core Xeon one fork's 1 s
                // iterations ran at 1800, 3477, 3328, then 4000 to 4500 batches/s, another's from 4370 at the second
                .warmupIterations(QUICK_WARMUPS).warmupTime(TimeValue.milliseconds(QUICK_WARMUP_MS))
                .measurementIterations(QUICK_ITERATIONS).measurementTime(TimeValue.milliseconds(QUICK_ITERATION_MS));
        if (dir != null) {
            o.resultFormat(ResultFormatType.JSON).result(dir.resolve("jmh-quick.json").toString());
        }
        PrintWriter err = spec.commandLine().getErr();
        err.printf("cubatch bench: running the quick benchmarks (JMH log: %s) ...%n", log);
        err.flush();
        Collection<RunResult> results = new Runner(o.build()).run();
        Map<String, String> machine = Summary.machine();
        List<QuickRow> rows = quickRows(results);
        PrintWriter out = spec.commandLine().getOut();
        String note = "quick figures are indicative (2 forks of " + QUICK_ITERATIONS + " x " + QUICK_ITERATION_MS
                + " ms after " + QUICK_WARMUPS + " x " + QUICK_WARMUP_MS + " ms of warmup, on whatever else this"
                + " machine is doing);"
                + " the figures that count come from the full run, bench/run-cpu.sh";
        if (format == PlanCommand.Format.json) {
            com.fasterxml.jackson.core.JsonGenerator g = new com.fasterxml.jackson.core.JsonFactory().createGenerator(out);
            g.writeStartObject();
            g.writeObjectFieldStart("machine");
            for (Map.Entry<String, String> e : machine.entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeStringField("note", note);
            g.writeArrayFieldStart("rows");
            for (QuickRow r : rows) {
                g.writeStartObject();
                g.writeNumberField("batch_size", r.batch());
                g.writeStringField("method", r.method());
                g.writeNumberField("batches_per_second", r.median());
                g.writeArrayFieldStart("forks");
                for (double f : r.forks()) {
                    g.writeNumber(f);
                }
                g.writeEndArray();
                g.writeNumberField("spread", r.spread());
                if (!Double.isNaN(r.ratio())) {
                    g.writeNumberField("ratio_to_ceiling", r.ratio());
                }
                g.writeNumberField("ceiling_batches_per_second", r.ceiling());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
            g.flush();
            out.println();
        } else {
            machine.forEach((k, v) -> out.printf("%-5s %s%n", k + ":", v));
            out.println();
            out.printf("%-6s %-14s %14s %8s %14s %10s%n", "batch", "method", "batches/s", "spread", "ceiling/s", "x ceiling");
            for (QuickRow r : rows) {
                out.printf("%-6d %-14s %14.0f %7.0f%% %14.0f %10s%n", r.batch(), r.method(), r.median(),
                        100 * r.spread(), r.ceiling(), Double.isNaN(r.ratio()) ? "" : String.format("%.2fx", r.ratio()));
            }
            out.println();
            out.println("ceiling: the faster of ceilingC and ceilingJava in this run (the same rows read from the store and");
            out.println("written with their padding, lengths and mask); spread: (max - min) / median over the forks.");
            out.println(note + ".");
        }
        out.flush();
        return Main.EXIT_OK;
    }

    /** One quick row: the median over forks of batches per second, the forks, their spread, the ratio. */
    record QuickRow(int batch, String method, double median, double[] forks, double spread, double ceiling,
                    double ratio) {
    }

    static List<QuickRow> quickRows(Collection<RunResult> results) {
        Map<Integer, Map<String, double[]>> byBatch = new java.util.TreeMap<>();
        for (RunResult r : results) {
            String method = r.getParams().getParam("variant");
            int b = Integer.parseInt(r.getParams().getParam("batchSize"));
            double[] forks = r.getBenchmarkResults().stream().mapToDouble(x -> x.getPrimaryResult().getScore()).toArray();
            byBatch.computeIfAbsent(b, k -> new java.util.TreeMap<>()).put(method, forks);
        }
        List<QuickRow> rows = new java.util.ArrayList<>();
        byBatch.forEach((b, methods) -> {
            double ceiling = 0;
            for (String c : new String[] {"ceilingC", "ceilingJava"}) {
                if (methods.containsKey(c)) {
                    ceiling = Math.max(ceiling, median(methods.get(c)));
                }
            }
            for (Map.Entry<String, double[]> e : methods.entrySet()) {
                double[] f = e.getValue();
                double m = median(f);
                double spread = (java.util.Arrays.stream(f).max().orElse(m) - java.util.Arrays.stream(f).min().orElse(m)) / m;
                double ratio = e.getKey().startsWith("ceiling") || ceiling == 0 ? Double.NaN : m / ceiling;
                rows.add(new QuickRow(b, e.getKey(), m, f, spread, ceiling, ratio));
            }
        });
        return rows;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private void print(Map<String, String> machine, List<Summary.Row> rows) throws java.io.IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (format == PlanCommand.Format.json) {
            Writer w = out;
            Summary.writeJson(machine, rows, w);
        } else {
            machine.forEach((k, v) -> out.printf("%-5s %s%n", k + ":", v));
            out.println();
            out.print(Summary.table(rows));
        }
        out.flush();
    }
}
