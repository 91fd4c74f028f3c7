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
        description = {"Measure padding throughput of each backend against the copy + fill ceiling (JMH).",
                "Quick by default (batch 64 and 256, log-normal lengths); --full sweeps batch 8..1024, three",
                "length distributions, int32 and float16, and the naive and plan baselines."},
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
        ChainedOptionsBuilder o = new OptionsBuilder()
                .include("io\\.cubatch\\.bench\\..*Benchmark")
                .forks(1)
                .jvmArgsAppend(forkFlags())
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true)
                .output(log.toString());
        if (full) {
            o.warmupIterations(2).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations(3).measurementTime(TimeValue.milliseconds(700));
        } else {
            o.param("batchSize", "64", "256").param("distribution", "lognormal")
                    .warmupIterations(1).warmupTime(TimeValue.milliseconds(300))
                    .measurementIterations(2).measurementTime(TimeValue.milliseconds(300));
        }
        if (dir != null) {
            o.resultFormat(ResultFormatType.JSON).result(dir.resolve("jmh.json").toString());
        }
        PrintWriter err = spec.commandLine().getErr();
        err.printf("cubatch bench: running %s benchmarks (JMH log: %s) ...%n", full ? "the full" : "the quick", log);
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
