package io.cubatch.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.loader.Batch;
import io.cubatch.loader.BatchLoader;
import io.cubatch.loader.LoaderStats;
import io.cubatch.loader.SyntheticCorpus;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlanExplanation;
import io.cubatch.plan.WorldRank;
import io.cubatch.store.DType;
import io.cubatch.store.Datasets;
import io.cubatch.store.LengthStats;
import io.cubatch.store.SampleStore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch run}: the main job: plan, load, collate every batch of one rank, and report. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run the batch pipeline (plan + store + collator + prefetching loader) over a dataset and",
                "report throughput and padding. Without --input: an embedded synthetic corpus of 200,000",
                "sequences (log-normal lengths, median 300 tokens, cap 2048, vocabulary 50,000)."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments or input (the message names the value and the fix), 3 --device",
                "(or --backend cuda) and no usable GPU, 1 internal error."})

final class RunCommand implements Callable<Integer> {
    /** The demo's batch size when none is given; printed, never silent. */
    static final int DEMO_BATCH_SIZE = 32;
    private static final JsonFactory JSON = JsonFactory.builder().build();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", paramLabel = "PATH", description = "Dataset: " + InputOptions.FORMATS + "; default: the embedded corpus.")
    Path input;

    @picocli.CommandLine.Mixin
    InputOptions read;

    @CommandLine.Mixin
    PlanOptions options;

    @Option(names = "--epochs", paramLabel = "E", defaultValue = "1", converter = Ranges.Positive.class, description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @CommandLine.Mixin
    PaddingOptions paddingOptions;

    @Option(names = "--backend", paramLabel = "NAME", description = "java, native or cuda (device mode, GPU 0 unless --device); default: the fastest host backend.")
    String backend;

    @Option(names = "--device", paramLabel = "N", description = "Device mode on GPU N: batches are padded on the GPU from the real tokens"
            + " sent over PCIe, and stay there (the cuda backend).")
    Integer device;

    @Option(names = "--resident", description = "Device mode with the dataset uploaded to the GPU once: each batch sends only its indices.")
    boolean resident;

    @Option(names = "--devices", paramLabel = "N,N,...", split = ",", description = "Several ranks in this process, one per GPU"
            + " listed (rank --rank + i on the i-th; world size: --world-size, the launcher's, or the number of GPUs):"
            + " each step lands every rank's batch on its own GPU.")
    int[] devices;


    @Option(names = "--bucket", paramLabel = "N", defaultValue = "0", converter = Ranges.NonNegative.class,
            description = "Length bucketing over windows of N batches (0: off).")
    int bucket;

    @Option(names = "--pack", description = "Pack sequences first-fit into rows of --maxlen tokens, with cu_seqlens.")
    boolean pack;

    @Option(names = "--prefetch", paramLabel = "K", defaultValue = "4", converter = Ranges.Positive.class, description = "Ring slots (default: ${DEFAULT-VALUE}).")
    int prefetch;

    @Option(names = "--workers", paramLabel = "N", converter = Ranges.Positive.class, description = "Worker threads (default: cores, at most 4).")
    Integer workers;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}); json prints the final stats as one object.")
    PlanCommand.Format format;

    @Option(names = "--resume-at", paramLabel = "K", defaultValue = "0", converter = Ranges.NonNegativeLong.class,
            description = "Start the first epoch after K consumed samples (a checkpoint's count; any world size,"
                    + " micro-batch size or ramp-up; default: ${DEFAULT-VALUE}).")
    long resumeAt;

    @Option(names = "--emit-samples", paramLabel = "FILE",
            description = "Write the sample ids of every batch loaded to FILE, one JSON object per line: rank,"
                    + " data_parallel_rank, epoch, step, micro_batch, samples, repeated, filled. {rank} in FILE is"
                    + " replaced by the global rank (one file per rank under a launcher).")
    String emitSamples;

    @Override
    @SuppressWarnings("try") // the loop only closes each batch: a consumer that does no work
    public Integer call() throws Exception {
        Padding padding = paddingOptions.padding(spec, PadSide.POST, DType.INT32, pack);
        if (input != null && !options.batchSizeGiven()) {
            throw new IllegalArgumentException("the batch size has no default for your data: pass --batch-size B"
                    + " (per rank) or --global-batch-size G");
        }
        if (devices != null) {
            if (devices.length == 0 || device != null) {
                throw new IllegalArgumentException(devices.length == 0 ? "--devices needs at least one GPU number"
                        : "--device and --devices both given: use --devices N,N,... alone for several GPUs");
            }
            for (int d : devices) {
                if (d < 0) {
                    throw new IllegalArgumentException("--devices " + d + " is not a GPU number: use 0, 1, ... (cubatch"
                            + " info lists them)");
                }
            }
        }
        boolean deviceMode = device != null || devices != null || resident || "cuda".equalsIgnoreCase(backend);
        if (deviceMode && backend != null && !"cuda".equalsIgnoreCase(backend)) {
            throw new IllegalArgumentException("--backend " + backend + " runs on the host, but --device or --resident"
                    + " asks for device mode: drop --backend, or use --backend cuda");
        }
        if (device != null && device < 0) {
            throw new IllegalArgumentException("--device " + device + " is not a GPU number: use 0, 1, ... (cubatch info"
                    + " lists them)");
        }
        if (resident && pack) {
            throw new IllegalArgumentException("--pack sends the batch's tokens in packed order, so it cannot use a"
                    + " device-resident dataset: drop --resident or --pack");
        }
        WorldRank world = options.world();
        if (devices != null && devices.length > 1 && options.worldSize == null && world.worldSize() == 1) {
            world = new WorldRank(devices.length, world.rank(), world.localRank(), "--devices");
        }
        io.cubatch.plan.DataParallel dp = options.dataParallel(world);
        if (devices != null && dp.modelParallel()) {
            throw new IllegalArgumentException("--devices runs one data-parallel rank per GPU: it does not combine"
                    + " with --tensor-parallel or --pipeline-parallel; run one process per GPU under a launcher instead");
        }
        if (devices != null && (emitSamples != null || options.microBatchSize != null || options.gradAccumulation != null
                || options.maxTokens != null)) {
            throw new IllegalArgumentException("--devices does not yet combine with --emit-samples, micro-batches or"
                    + " --max-tokens: run one process per GPU (under a launcher) instead");
        }
        int globalRank = world.rank().orElse(0);
        if (emitSamples != null && input != null) {
            checkNotInput(Path.of(emitSamples.replace("{rank}", Integer.toString(globalRank))));
        }
        // after the argument checks: an option --devices does not take is exit 2 with or without a GPU
        if (deviceMode) {
            io.cubatch.collate.Backends.Backend cuda = io.cubatch.collate.Backends.all().stream()
                    .filter(b -> b.name().equals("cuda")).findFirst().orElse(null);
            if (cuda == null || !cuda.available()) {
                PrintWriter err = spec.commandLine().getErr();
                err.println("run: device mode needs a usable GPU: "
                        + (cuda == null ? "the cuda backend is not on the class path" : cuda.reason()));
                err.flush();
                return Main.EXIT_UNAVAILABLE;
            }
        }
        int myRank = dp.rank().orElse(0);   // the data-parallel rank: what the plan and the loader know
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean text = format == PlanCommand.Format.text;
        long t0 = System.nanoTime();
        try (SampleStore store = input == null ? SyntheticCorpus.standard() : read.open(input)) {
            double buildSeconds = (System.nanoTime() - t0) / 1e9;
            BatchPlan.Builder pb = options.builder(store.size(), dp).resumeAt(resumeAt);
            options.applyTokens(pb, store, padding);
            if (!options.batchSizeGiven()) {
                pb.batchSize(DEMO_BATCH_SIZE);
            }
            BatchPlan plan = pb.build();
            if (devices != null) {
                return runLocalRanks(store, plan, padding, world, myRank, out, err, text);
            }
            BatchLoader.Builder lb = BatchLoader.builder().store(store).plan(plan).rank(myRank).padding(padding)
                    .backend(deviceMode ? "cuda" : backend).prefetch(prefetch).bucket(bucket).pack(pack);
            if (deviceMode) {
                lb.device(device == null ? 0 : device);
            }
            if (resident) {
                lb.residentOnDevice(Long.MAX_VALUE);   // bounded by the device's memory: an error names both sizes
            }
            if (workers != null) {
                lb.workers(workers);
            }
            try (BatchLoader loader = lb.build()) {
                RunPreflight.check(store, loader, myRank, epochs, padding);   // bad data: exit 2, nothing printed
                SampleLog log = emitSamples == null ? null   // a bad path: exit 2, nothing printed
                        : new SampleLog(Path.of(emitSamples.replace("{rank}", Integer.toString(globalRank))), globalRank);
                if (text) {
                    summary(out, store, plan, loader, padding, world, myRank, buildSeconds);
                }
                long total = 0;
                for (int e = 0; e < epochs; e++) {
                    total += loader.plan(plan.epoch() + e).microBatchCount(myRank);
                }
                ProgressBar bar = text ? progressBar(total, err) : null;
                long done = 0;
                try {
                    for (int e = 0; e < epochs; e++) {
                        Iterator<Batch> it = loader.epoch(plan.epoch() + e);
                        while (it.hasNext()) {
                            try (Batch b = it.next()) {
                                if (log != null) {
                                    log.write(plan.epoch() + e, b);
                                }
                                done++;
                                if (bar != null) {
                                    bar.stepTo(done);
                                } else if (text && (done % Math.max(1, total / 10) == 0 || done == total)) {
                                    err.printf("progress: %d/%d batches (%d%%)%n", done, total, done * 100 / total);
                                    err.flush();
                                }
                            }
                        }
                    }
                } finally {
                    if (bar != null) {
                        bar.close();
                    }
                    if (log != null) {
                        log.close();
                    }
                }
                LoaderStats stats = loader.stats();
                if (text) {
                    table(out, stats);
                } else {
                    json(out, stats, plan, myRank, epochs, dp);
                }
            }
        }
        out.flush();
        return Main.EXIT_OK;
    }

    /**
     * Refuses an --emit-samples file that is a file of the input dataset (by identity): opening the log
     * truncates it, which destroyed a JSONL input and cut a mapped .npy, Arrow or Megatron file under the loader.
     */
    private void checkNotInput(Path log) throws java.io.IOException {
        if (!java.nio.file.Files.exists(log)) {
            return;
        }
        java.util.List<Path> inputs = new java.util.ArrayList<>();
        if (io.cubatch.store.Datasets.formatOf(input) == io.cubatch.store.Datasets.Format.MEGATRON) {
            Path prefix = io.cubatch.store.MegatronReader.prefixOf(input);
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".idx"));
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".bin"));
        } else {
            inputs.add(input);
            inputs.add(io.cubatch.store.DatasetWriter.offsetsOf(input));   // a ragged .npy pair's offsets
        }
        for (Path in : inputs) {
            if (java.nio.file.Files.exists(in) && java.nio.file.Files.isSameFile(log, in)) {
                throw new IllegalArgumentException("--emit-samples " + log + ": it is the input dataset's file " + in
                        + " (the same file): writing the log would destroy it; name another path");
            }
        }
    }

    /** --devices: ranks myRank.. on the listed GPUs, stepped together; stats per rank and summed. */
    private int runLocalRanks(SampleStore store, BatchPlan plan, Padding pad, WorldRank world, int myRank,
                              PrintWriter out, PrintWriter err, boolean text) throws java.io.IOException {
        io.cubatch.loader.LocalRanks.Builder rb = io.cubatch.loader.LocalRanks.builder().store(store).plan(plan)
                .padding(pad).devices(devices).firstRank(myRank).prefetch(prefetch).bucket(bucket)
                .workers(workers == null ? 1 : workers);
        if (resident) {
            rb.residentOnDevice(Long.MAX_VALUE);
        }
        try (io.cubatch.loader.LocalRanks ranks = rb.build()) {
            for (int i = 0; i < devices.length; i++) {   // bad data: exit 2, nothing printed
                RunPreflight.check(store, ranks.loaders().get(i), myRank + i, epochs, pad);
            }
            if (text) {
                out.printf("dataset:  %s, %d samples%n", store.source(), store.size());
                out.printf("plan:     %d ranks (%s), batch %d per rank = global %d; ranks %d..%d here on GPUs %s%n",
                        plan.worldSize(), world.source(), plan.batchSize(), plan.globalBatchSize(), myRank,
                        myRank + devices.length - 1, java.util.Arrays.toString(devices));
                out.flush();
            }
            long steps = 0;
            for (int e = 0; e < epochs; e++) {
                Iterator<List<Batch>> it = ranks.epoch(e);
                while (it.hasNext()) {
                    for (Batch b : it.next()) {
                        if (b != null) {
                            b.close();
                        }
                    }
                    steps++;
                    if (text && steps % 1000 == 0) {
                        err.printf("progress: %d steps%n", steps);
                        err.flush();
                    }
                }
            }
            List<LoaderStats> stats = ranks.stats();
            if (text) {
                for (int i = 0; i < stats.size(); i++) {
                    out.printf("%nrank %d on GPU %d:%n", myRank + i, devices[i]);
                    table(out, stats.get(i));
                }
            } else {
                jsonRanks(out, stats, plan, myRank, epochs);
            }
        }
        out.flush();
        return Main.EXIT_OK;
    }

    private void jsonRanks(PrintWriter out, List<LoaderStats> stats, BatchPlan plan, int firstRank, int epochs)
            throws java.io.IOException {
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            statsFields(g, LoaderStats.combined(stats), plan, firstRank, epochs);
            g.writeArrayFieldStart("devices");
            for (int d : devices) {
                g.writeNumber(d);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("ranks");
            for (int i = 0; i < stats.size(); i++) {
                LoaderStats s = stats.get(i);
                g.writeStartObject();
                g.writeNumberField("rank", firstRank + i);
                g.writeNumberField("device", s.device());
                g.writeNumberField("samples", s.samples());
                g.writeNumberField("tokens", s.tokens());
                g.writeNumberField("batches", s.batches());
                g.writeNumberField("h2d_bytes", s.h2dBytes());
                g.writeNumberField("d2h_bytes", s.d2hBytes());
                numberOrNull(g, "device_ms_per_batch", s.deviceMillisPerBatch());
                g.writeNumberField("stall_s", s.stallSeconds());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.println();
    }

    /** A redrawing bar on a terminal; null otherwise (then plain progress lines are printed). */
    private static ProgressBar progressBar(long total, PrintWriter err) {
        java.io.Console console = System.console();
        if (console == null || !console.isTerminal()) {
            return null;
        }
        return new ProgressBarBuilder().setTaskName("batches").setInitialMax(total)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(200)
                .continuousUpdate().build();
    }

    private void summary(PrintWriter out, SampleStore store, BatchPlan plan, BatchLoader loader, Padding padding,
                         WorldRank world, int myRank, double buildSeconds) {
        LengthStats ls = loader.datasetLengths();   // measured once, by the loader
        out.printf("dataset:  %s%n", store.source());
        out.printf("          %d samples, %d tokens, length min %d / median %d / max %d%s%n", ls.samples(),
                ls.totalTokens(), ls.min(), ls.median(), ls.max(),
                input == null ? String.format(", built in %.2f s", buildSeconds) : "");
        out.printf("plan:     %d rank%s (%s), batch %d per rank%s = global %d, rank %d runs %d steps per epoch%n",
                plan.worldSize(), plan.worldSize() == 1 ? "" : "s", world.source(), plan.batchSize(),
                options.batchSizeGiven() ? "" : " (demo default; set --batch-size)",
                plan.globalBatchSize(), myRank, plan.steps(myRank));
        if (plan.maxTokens().isPresent()) {
            PlanExplanation e = plan.explain();
            out.printf("tokens:   batches of at most %d padded tokens%s (up to %d rows); %d repeated, %d dropped to"
                    + " give every rank the same steps%n", plan.maxTokens().getAsLong(), plan.sortWindow() > 0
                    ? ", windows of " + plan.sortWindow() + " samples sorted by length" : "", plan.batchSize(),
                    e.totalRepeated(), e.totalDropped());
        }
        if (plan.microBatchSize() < plan.batchSize() || plan.rampUp().isPresent()) {
            out.printf("steps:    micro-batches of %d (accumulation %d at the full size)%s%n", plan.microBatchSize(),
                    plan.gradientAccumulation(), plan.rampUp().map(r -> "; ramp-up from " + r.start() + " by "
                            + r.increment() + " over " + r.samples() + " samples").orElse(""));
        }
        out.printf("          remainder %s, last batch %s, %s%n",
                plan.rankRemainder().map(r -> r.cliName()).orElse("none needed"),
                plan.lastBatch().map(l -> l.cliName()).orElse("none needed"),
                plan.shuffled() ? "shuffled, seed " + plan.seed().getAsLong() : "unshuffled");
        out.printf("collate:  %s padding%s, %s, backend %s%s%s%s, prefetch %d%n", padding.side().cliName(),
                padding.maxlen().isEmpty() ? " to each batch's longest" : " to " + padding.maxlen().getAsLong(),
                padding.dtype().cliName(), loader.stats().backend(),
                loader.deviceMode() ? " on GPU " + loader.device() + (resident ? " (dataset resident)" : "") : "",
                bucket > 0 ? ", bucketing over " + bucket + " batches" : "", pack ? ", packed rows" : "", prefetch);
        PlanExplanation ex = plan.explain();
        for (String w : ex.warnings()) {
            out.println("warning:  " + w);
        }
        out.flush();
    }

    private static void table(PrintWriter out, LoaderStats s) {
        out.println();
        out.printf("%-14s %,d%n", "samples", s.samples());
        out.printf("%-14s %,d%n", "tokens", s.tokens());
        out.printf("%-14s %,d%n", "batches", s.batches());
        out.printf("%-14s %.2f s%n", "time", s.seconds());
        out.printf("%-14s %,.0f%n", "samples/s", s.samplesPerSecond());
        out.printf("%-14s %,.0f%n", "tokens/s", s.tokensPerSecond());
        out.printf("%-14s %.1f %%%n", "padding", 100 * s.paddingRatio());
        out.printf("%-14s %,d bytes%n", "bytes moved", s.bytesMoved());
        out.printf("%-14s %,d bytes%n", "staging", s.stagingBytes());
        out.printf("%-14s %.3f s%n", "consumer wait", s.waitSeconds());
        out.printf("%-14s %s%n", "backend", s.backend());
        if (s.device() >= 0) {
            out.printf("%-14s %d%n", "device", s.device());
            out.printf("%-14s %,d bytes (%.2f per token)%n", "host to device", s.h2dBytes(),
                    s.tokens() == 0 ? 0.0 : (double) s.h2dBytes() / s.tokens());
            out.printf("%-14s %,d bytes (status words: %,d bytes)%n", "device to host", s.d2hBytes(), s.statusBytes());
            out.printf("%-14s %.3f ms%n", "device/batch", s.deviceMillisPerBatch());
        }
    }

    private static void json(PrintWriter out, LoaderStats s, BatchPlan plan, int rank, int epochs,
                             io.cubatch.plan.DataParallel dp) throws java.io.IOException {
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            g.writeStartObject();
            statsFields(g, s, plan, rank, epochs);
            // issue 16: batch sizes that change, data-parallel groups
            g.writeNumberField("micro_batch_size", plan.microBatchSize());
            g.writeNumberField("grad_accumulation", plan.gradientAccumulation());
            g.writeNumberField("global_batch_size", plan.globalBatchSize());
            if (plan.maxTokens().isPresent()) {
                g.writeNumberField("max_tokens", plan.maxTokens().getAsLong());
            } else {
                g.writeNullField("max_tokens");
            }
            g.writeNumberField("resume_at", plan.resumeAt());
            g.writeNumberField("data_parallel_size", plan.worldSize());
            g.writeNumberField("data_parallel_rank", dp.rank().orElse(0));
            g.writeNumberField("global_rank", dp.world().rank().orElse(0));
            g.writeNumberField("global_world_size", dp.world().worldSize());
            g.writeNumberField("tensor_parallel", dp.tensorParallel());
            g.writeNumberField("pipeline_parallel", dp.pipelineParallel());
            g.writeEndObject();
        }
        out.println();
    }

    /** The fields of run's JSON stats (README's contract), for one rank or several combined. */
    private static void statsFields(JsonGenerator g, LoaderStats s, BatchPlan plan, int rank, int epochs)
            throws java.io.IOException {
        g.writeNumberField("samples", s.samples());
        g.writeNumberField("tokens", s.tokens());
        g.writeNumberField("batches", s.batches());
        g.writeNumberField("samples_per_s", s.samplesPerSecond());
        g.writeNumberField("tokens_per_s", s.tokensPerSecond());
        g.writeNumberField("padding_ratio", s.paddingRatio());
        g.writeNumberField("bytes_moved", s.bytesMoved());
        g.writeNumberField("staging_bytes", s.stagingBytes());
        g.writeNumberField("wait_s", s.waitSeconds());
        g.writeStringField("backend", s.backend());
        g.writeNumberField("elapsed_s", s.seconds());
        g.writeNumberField("epochs", epochs);
        g.writeNumberField("rank", rank);
        g.writeNumberField("world_size", plan.worldSize());   // data-parallel: the world size without TP/PP
        g.writeNumberField("batch_size", plan.batchSize());
        if (s.device() >= 0) {
            g.writeNumberField("device", s.device());
        } else {
            g.writeNullField("device");
        }
        g.writeNumberField("h2d_bytes", s.h2dBytes());
        g.writeNumberField("d2h_bytes", s.d2hBytes());
        g.writeNumberField("d2h_status_bytes", s.statusBytes());
        numberOrNull(g, "device_ms_per_batch", s.deviceMillisPerBatch());
        g.writeNumberField("stall_s", s.stallSeconds());
    }

    /** A number, or null for NaN (JSON has no NaN). */
    private static void numberOrNull(JsonGenerator g, String field, double v) throws java.io.IOException {
        if (Double.isNaN(v)) {
            g.writeNullField(field);
        } else {
            g.writeNumberField(field, v);
        }
    }
}
