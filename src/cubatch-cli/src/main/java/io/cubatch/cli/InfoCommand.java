package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.store.Datasets;
import io.cubatch.store.LengthStats;
import io.cubatch.store.SampleStore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch info}: what a dataset holds, or, without --input, what this machine runs cubatch on. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = {"With --input: a dataset's format, dtype, samples, documents, lengths and tokens.",
                "Without: the backends (and why any is unavailable), the kernels, the GPUs, the JDK and the machine,",
                "as text or, with --format json, as one object."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments or dataset (the message names the file, where and what), 1 internal error."})
final class InfoCommand implements Callable<Integer> {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", paramLabel = "PATH",
            description = "A dataset: " + InputOptions.FORMATS + ".")
    Path input;

    @CommandLine.Mixin
    InputOptions read;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PlanCommand.Format format;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (input == null) {
            if (format == PlanCommand.Format.json) {
                machineJson(out);
            } else {
                machine(out);
            }
            out.flush();
            return Main.EXIT_OK;
        }
        Datasets.Format kind = Datasets.formatOf(input);
        try (SampleStore s = read.open(input)) {
            LengthStats stats = LengthStats.of(s);
            if (format == PlanCommand.Format.json) {
                try (JsonGenerator g = JSON.createGenerator(out)) {
                    g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                    g.writeStartObject();
                    g.writeStringField("path", input.toString());
                    g.writeStringField("format", kind.name().toLowerCase(java.util.Locale.ROOT));
                    g.writeStringField("dtype", s.dtype().cliName());
                    g.writeBooleanField("ragged", s.isRagged());
                    g.writeFieldName("feature_shape");
                    long[] fs = s.featureShape();
                    g.writeArray(fs, 0, fs.length);
                    g.writeNumberField("samples", stats.samples());
                    if (s.documents().isPresent()) {
                        g.writeNumberField("documents", s.documents().getAsLong());
                    } else {
                        g.writeNullField("documents");
                    }
                    g.writeNumberField("min_length", stats.min());
                    g.writeNumberField("median_length", stats.median());
                    g.writeNumberField("max_length", stats.max());
                    g.writeNumberField("total_tokens", stats.totalTokens());
                    g.writeNumberField("chunks", s.chunks());   // buffers served in place: Arrow record batches
                    g.writeEndObject();
                }
                out.println();
            } else {
                out.printf("path:          %s%n", input);
                out.printf("format:        %s%n", kind.name().toLowerCase(java.util.Locale.ROOT));
                out.printf("dtype:         %s%n", s.dtype().cliName());
                out.printf("shape:         %s, timestep %s%n", s.isRagged() ? "ragged" + (s.isContiguous() ? ""
                                : " in " + s.chunks() + " chunks (record batches, served in place)") : "fixed",
                        s.featureShape().length == 0 ? "scalar" : Arrays.toString(s.featureShape()));
                out.printf("samples:       %d%n", stats.samples());
                out.printf("documents:     %s%n", s.documents().isPresent() ? s.documents().getAsLong() : "-");
                out.printf("length:        min %d, median %d, max %d%n", stats.min(), stats.median(), stats.max());
                out.printf("total tokens:  %d%n", stats.totalTokens());
            }
        }
        out.flush();
        return Main.EXIT_OK;
    }

    private static void machine(PrintWriter out) {
        for (io.cubatch.collate.Backends.Backend b : io.cubatch.collate.Backends.all()) {
            out.printf("backend %-7s %s%n", b.name() + ":", b.available() ? "available" : "unavailable: " + b.reason());
        }
        out.printf("kernels: %s%n", kernels());
        out.printf("gpu:     %s%n", gpu());
        Runtime.Version v = Runtime.version();
        out.printf("jdk:    %s %s (%s)%n", System.getProperty("java.vm.name"), v, System.getProperty("java.home"));
        out.printf("os:     %s %s %s%n", System.getProperty("os.name"), System.getProperty("os.version"),
                System.getProperty("os.arch"));
        out.printf("cpus:   %d%n", Runtime.getRuntime().availableProcessors());
        out.printf("memory: %d MiB max heap%n", Runtime.getRuntime().maxMemory() >> 20);
    }

    /**
     * The machine as one JSON object: {@code backends[{name, available, reason}], kernels{packaged,
     * description}, cuda{available, reason, devices[{ordinal, name, total_bytes, compute_capability}]},
     * jdk{vm, version, home}, os{name, version, arch}, cpus, memory{max_heap_bytes}}; a reason is null when
     * the thing is available.
     */
    private static void machineJson(PrintWriter out) throws java.io.IOException {
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            g.writeArrayFieldStart("backends");
            for (io.cubatch.collate.Backends.Backend b : io.cubatch.collate.Backends.all()) {
                g.writeStartObject();
                g.writeStringField("name", b.name());
                g.writeBooleanField("available", b.available());
                writeReason(g, b.available(), b.reason());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeObjectFieldStart("kernels");
            g.writeBooleanField("packaged", io.cubatch.cuda.Cuda.kernelsPackaged());
            g.writeStringField("description", kernels());
            java.util.Optional<io.cubatch.cuda.KernelArchitectures> archs = io.cubatch.cuda.KernelArchitectures.packaged();
            g.writeArrayFieldStart("sass");
            for (int a : archs.map(io.cubatch.cuda.KernelArchitectures::sass).orElse(java.util.List.of())) {
                g.writeString("sm_" + a);
            }
            g.writeEndArray();
            if (archs.isPresent()) {
                g.writeStringField("ptx", "compute_" + archs.get().ptx());
            } else {
                g.writeNullField("ptx");
            }
            g.writeEndObject();
            io.cubatch.cuda.Cuda.Availability a = io.cubatch.cuda.Cuda.availability();
            g.writeObjectFieldStart("cuda");
            g.writeBooleanField("available", a.available());
            writeReason(g, a.available(), a.reason());
            g.writeArrayFieldStart("devices");
            for (io.cubatch.cuda.Cuda.Device d : a.devices()) {
                g.writeStartObject();
                g.writeNumberField("ordinal", d.ordinal());
                g.writeStringField("name", d.name());
                g.writeNumberField("total_bytes", d.totalBytes());
                g.writeStringField("compute_capability", d.computeMajor() + "." + d.computeMinor());
                java.util.Optional<io.cubatch.cuda.KernelArchitectures.Match> m = io.cubatch.cuda.Cuda.kernelsFor(d);
                if (m.isPresent()) {
                    g.writeStringField("kernels", m.get().how());
                } else {
                    g.writeNullField("kernels");
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
            g.writeObjectFieldStart("jdk");
            g.writeStringField("vm", System.getProperty("java.vm.name"));
            g.writeStringField("version", Runtime.version().toString());
            g.writeStringField("home", System.getProperty("java.home"));
            g.writeEndObject();
            g.writeObjectFieldStart("os");
            g.writeStringField("name", System.getProperty("os.name"));
            g.writeStringField("version", System.getProperty("os.version"));
            g.writeStringField("arch", System.getProperty("os.arch"));
            g.writeEndObject();
            g.writeNumberField("cpus", Runtime.getRuntime().availableProcessors());
            g.writeObjectFieldStart("memory");
            g.writeNumberField("max_heap_bytes", Runtime.getRuntime().maxMemory());
            g.writeEndObject();
            g.writeEndObject();
        }
        out.println();
    }

    private static void writeReason(JsonGenerator g, boolean available, String reason) throws java.io.IOException {
        if (available || reason == null || reason.isEmpty()) {
            g.writeNullField("reason");
        } else {
            g.writeStringField("reason", reason);
        }
    }

    /** Whether the jar carries the CUDA fatbin, or why not. */
    static String kernels() {
        if (io.cubatch.cuda.Cuda.kernelsPackaged()) {
            return "cubatch.fatbin packaged: " + io.cubatch.cuda.KernelArchitectures.packaged()
                    .map(io.cubatch.cuda.KernelArchitectures::describe).orElse("no architecture list recorded");
        }
        return io.cubatch.cuda.Cuda.buildNote().map(note -> "not built: " + note).orElse("not packaged");
    }

    /** The GPUs the cuda backend sees, or why it sees none (io.cubatch.cuda.Cuda probes the driver through FFM
     *  before JCuda touches it, so a machine without one gets the reason, not an Error). */
    static String gpu() {
        io.cubatch.cuda.Cuda.Availability a = io.cubatch.cuda.Cuda.availability();
        if (!a.available()) {
            return "none usable: " + a.reason();
        }
        StringBuilder sb = new StringBuilder();
        for (io.cubatch.cuda.Cuda.Device d : a.devices()) {
            sb.append(sb.isEmpty() ? "" : "; ").append(d.ordinal()).append(": ").append(d.name()).append(", ")
                    .append(d.totalBytes() >> 20).append(" MiB, compute ").append(d.computeMajor()).append('.')
                    .append(d.computeMinor());
            io.cubatch.cuda.Cuda.kernelsFor(d).ifPresent(m -> sb.append(", kernels: ").append(m.how()));
        }
        return sb.toString();
    }
}
