package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.cuda.Cuda;
import io.cubatch.cuda.CudaContext;
import io.cubatch.cuda.MemoryProbe;
import io.cubatch.cuda.ProbeSearch;
import io.cubatch.loader.SyntheticCorpus;
import io.cubatch.store.DType;
import io.cubatch.store.Datasets;
import io.cubatch.store.LengthStats;
import io.cubatch.store.SampleStore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch probe}: the largest batch size whose collated batch plus a step fits in GPU memory. */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"The largest batch size whose padded batch (data, lengths, mask, positions) plus one step fits"
                + " in GPU memory: doubling, then bisection; out-of-memory is recognised by CUDA_ERROR_OUT_OF_MEMORY;"
                + " everything is freed after each trial. Rows are probed at the worst case: --maxlen, or the"
                + " dataset's longest sample (rounded up by --pad-to-multiple-of).",
                "The default step is a linear layer's forward pass (cuBLAS sgemm, [B*L, hidden] x [hidden, out]"
                        + " float32); without libcublas.so.12 the probe says so and runs without it."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments or dataset, 3 no usable GPU here (the message says why),"
                + " 1 internal error."})
final class ProbeCommand implements Callable<Integer> {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    enum Step { linear, none }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", paramLabel = "PATH",
            description = "A dataset (.npy, .jsonl, Megatron prefix); default: the embedded corpus of `cubatch run`.")
    Path input;

    @picocli.CommandLine.Mixin
    InputOptions read;

    @CommandLine.Mixin
    PaddingOptions.Length length;

    @Option(names = "--step", paramLabel = "STEP", defaultValue = "linear",
            description = "Work per trial: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Step step;

    @Option(names = "--hidden", paramLabel = "H", defaultValue = "1024", converter = Ranges.Positive.class,
            description = "Linear step: input features per token (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--out-features", paramLabel = "O", defaultValue = "1024", converter = Ranges.Positive.class,
            description = "Linear step: output features per token (default: ${DEFAULT-VALUE}).")
    int outFeatures;

    @Option(names = "--margin", paramLabel = "F", defaultValue = "0.05", converter = Ranges.Margin.class,
            description = "Fraction of GPU memory kept free during every trial (default: ${DEFAULT-VALUE}).")
    double margin;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "16777216", converter = Ranges.PositiveLong.class,
            description = "Largest batch size tried (default: ${DEFAULT-VALUE}).")
    long maxBatch;

    @Option(names = "--device", paramLabel = "N", defaultValue = "0", converter = Ranges.NonNegative.class, description = "GPU ordinal (default: 0).")
    int device;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PlanCommand.Format format;

    private IllegalArgumentException bad(String message) {
        return new IllegalArgumentException(message);
    }

    @Override
    public Integer call() throws Exception {
        DType out = length.dtype(spec, DType.INT32);
        Long maxlen = length.maxlen;
        int multiple = length.multiple == null ? 1 : length.multiple;
        boolean positions = length.positions;
        long rows;
        long features;
        if (maxlen != null && input == null) {
            rows = maxlen;
            features = 1;
        } else {
            try (SampleStore s = input == null ? SyntheticCorpus.standard() : read.open(input)) {
                long longest = LengthStats.of(s).max();
                rows = maxlen != null ? maxlen : longest;
                features = s.features();
            }
        }
        rows = Math.max(1, (rows + multiple - 1) / multiple * multiple);

        Cuda.Availability a = Cuda.availability();
        PrintWriter err = spec.commandLine().getErr();
        if (!a.available()) {
            err.println("probe: no usable GPU: " + a.reason());
            err.flush();
            return Main.EXIT_UNAVAILABLE;
        }
        if (device < 0 || device >= a.devices().size()) {
            throw bad("--device " + device + " does not exist: this machine has " + a.devices().size()
                    + " GPU(s), numbered 0.." + (a.devices().size() - 1));
        }
        List<String> notes = new ArrayList<>();
        MemoryProbe.Step work = step == Step.linear ? MemoryProbe.linearIfAvailable(hidden, outFeatures, notes)
                : MemoryProbe.none();
        MemoryProbe.Report r;
        try (CudaContext c = CudaContext.open(device)) {
            r = MemoryProbe.probe(c, rows, features, out, positions, work, margin, maxBatch);
        }
        print(a.devices().get(device), out, features, positions, r, notes);
        return Main.EXIT_OK;
    }

    private void print(Cuda.Device d, DType out, long features, boolean positions, MemoryProbe.Report r,
                       List<String> notes)
            throws java.io.IOException {
        PrintWriter w = spec.commandLine().getOut();
        if (format == PlanCommand.Format.json) {
            try (JsonGenerator g = JSON.createGenerator(w)) {
                g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                g.writeStartObject();
                g.writeNumberField("device", d.ordinal());
                g.writeStringField("device_name", d.name());
                g.writeNumberField("length", r.length());
                g.writeNumberField("features", features);
                g.writeStringField("dtype", out.cliName());
                g.writeBooleanField("positions", positions);
                g.writeStringField("step", r.step());
                g.writeNumberField("largest_batch_size", r.largestBatch());
                g.writeNumberField("batch_bytes", r.bytesAtLargest());
                g.writeNumberField("free_bytes", r.freeBytes());
                g.writeNumberField("total_bytes", r.totalBytes());
                g.writeNumberField("margin_bytes", r.marginBytes());
                g.writeArrayFieldStart("trials");
                for (ProbeSearch.Trial t : r.trials()) {
                    g.writeStartObject();
                    g.writeNumberField("batch_size", t.batch());
                    g.writeBooleanField("fits", t.fits());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeArrayFieldStart("notes");
                for (String n : notes) {
                    g.writeString(n);
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            w.println();
        } else {
            w.printf("device:        %d: %s, %d MiB (%d MiB free before the probe)%n", d.ordinal(), d.name(),
                    r.totalBytes() >> 20, r.freeBytes() >> 20);
            w.printf("rows:          %d timesteps x %d features, %s%s%n", r.length(), features, out.cliName(),
                    positions ? ", with positions" : "");
            w.printf("step:          %s%n", r.step());
            w.printf("margin:        %d MiB kept free%n", r.marginBytes() >> 20);
            StringBuilder sb = new StringBuilder();
            for (ProbeSearch.Trial t : r.trials()) {
                sb.append(sb.isEmpty() ? "" : " ").append(t.batch()).append(t.fits() ? "+" : "-");
            }
            w.printf("trials:        %s (+ fits, - out of memory)%n", sb);
            w.printf("largest batch: %d (batch tensors %d MiB)%n", r.largestBatch(), r.bytesAtLargest() >> 20);
            for (String n : notes) {
                w.printf("note:          %s%n", n);
            }
        }
        w.flush();
    }
}
